import { test } from 'tap'
import Fastify from 'fastify'
import keyguard from '../index.js'
import { startStub } from './helpers/stub.js'

test('smoke', async (t) => {
  const stub = await startStub({ keys: ['fw_' + 'a'.repeat(30)] })
  t.teardown(() => stub.close())
  const app = Fastify({ logger: { level: 'info' } })
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: 'fw_' + 'a'.repeat(30) + '\n' } })
  await app.ready()
  const res = await app.inject('/readyz')
  t.equal(res.statusCode, 200)
  console.log(res.body, app.keyguard.report())
  await app.close()
  const bad = Fastify()
  await bad.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: 'fw_' + 'b'.repeat(30) } })
  const err = await bad.ready().then(() => null, (e: Error) => e)
  console.log(err?.message)
  t.ok(err)
})
