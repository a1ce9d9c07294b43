// Issue 13: keyguard relies on Fastify's hook order; this pins it, so a Fastify release that changes it fails here.
import { test } from 'tap'
import Fastify from 'fastify'
import OpenAI from 'openai'
import keyguard from '../../index.js'
import { startStub } from '../helpers/stub.js'

const KEY = 'fw_' + 'H'.repeat(32)
const ACME_KEY = 'acme-' + 'H'.repeat(32)

test('onError runs before the application\'s error handler (so the error is stripped before it logs), onSend after it', async (t) => {
  const stub = await startStub({ keys: [] })
  t.teardown(() => stub.close())
  const app = Fastify()
  t.teardown(() => app.close())
  const order: string[] = []
  app.addHook('onError', (_request, _reply, error, done) => {
    order.push(`app onError before keyguard: ${error.message.includes('withheld') ? 'stripped' : 'raw'}`)
    done()
  })
  await app.register(keyguard, { keys: [{ provider: 'fireworks', value: KEY, baseUrl: stub.url }], env: {}, probe: false })
  app.addHook('onError', (_request, _reply, error, done) => {
    order.push(`app onError after keyguard: ${error.message.includes('withheld') ? 'stripped' : 'raw'}`)
    done()
  })
  app.setErrorHandler((error: Error, _request, reply) => {
    order.push(`error handler: ${error.message.includes('withheld') ? 'stripped' : 'raw'}, status ${String((error as { statusCode?: number }).statusCode)}`)
    return reply.send(error)
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    order.push(`app onSend after keyguard's: ${reply.statusCode}`)
    done(null, payload)
  })
  app.post('/sdk', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${stub.url}/v1`, maxRetries: 0 })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  await app.ready()
  const res = await app.inject({ method: 'POST', url: '/sdk' })
  t.equal(res.statusCode, 502)
  t.same(order, [
    'app onError before keyguard: raw',
    'app onError after keyguard: stripped',
    'error handler: stripped, status 502',
    'app onSend after keyguard\'s: 502'
  ])
})

test('a custom provider whose classify throws: the watched answer judges nothing and nothing crashes', async (t) => {
  const stub = await startStub({ mode: 'custom', status: 400, body: { error: 'bad model' } })
  t.teardown(() => stub.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, {
    keys: [{
      provider: {
        id: 'acme',
        label: 'Acme',
        env: 'ACME_API_KEY',
        baseUrl: stub.url,
        probe: { path: '/v1/models' },
        classify: (answer) => { if (answer.status === 400) throw new Error('a rule with a bug'); return undefined }
      },
      value: ACME_KEY,
      probe: false
    }],
    env: {}
  })
  app.post('/call', async () => {
    const res = await app.keyguard.fetch(`${stub.url}/v1/chat`, { method: 'POST', body: '{}' })
    return `${res.status} ${await res.text()}`
  })
  await app.ready()
  const res = await app.inject({ method: 'POST', url: '/call' })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '400 {"error":"bad model"}', 'the upstream answer reached the handler unchanged')
  t.equal(app.keyguard.report().status, 'pass')
})
