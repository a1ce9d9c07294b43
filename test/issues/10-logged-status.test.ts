// Issue 10.6: an upstream 401 is logged as what the client got.
import { test } from 'tap'
import OpenAI from 'openai'
import { appWith } from '../helpers/app.js'
import { stubFor } from '../helpers/stub.js'

const KEY = 'fw_' + 'S'.repeat(32)

test('the request log shows the status the client received, not the upstream\'s 401', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const { app, logs } = await appWith({
    keys: [{ provider: 'fireworks', baseUrl: `${stub.url}/inference` }],
    env: { FIREWORKS_API_KEY: KEY },
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  })
  t.teardown(() => app.close())
  app.post('/sdk', async () => {
    const client = new OpenAI({ apiKey: app.keyguard.key(), baseURL: `${stub.url}/inference/v1`, maxRetries: 0 })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  await app.ready()
  stub.set('auth', { keys: [] })
  const res = await app.inject({ method: 'POST', url: '/sdk' })
  t.equal(res.statusCode, 502)
  const records = logs.records()
  const statuses = records.flatMap((line) => {
    const status = (line.res as { statusCode?: number } | undefined)?.statusCode
    return status === undefined ? [] : [status]
  })
  t.equal(statuses.length, 2, 'the error line and the completion line carry a status')
  t.same([...new Set(statuses)], [502], 'every logged response status is the one sent')
  const error = records.find((line) => line.err !== undefined)
  t.equal(error?.level, 50, 'a 502 is logged at error level, as Fastify logs any 5xx')
  t.match(String(error?.msg), /upstream rejected the credentials of key "fireworks" \(HTTP 401\)/)
})

test('a frozen SDK error that refuses the status and the stripping is still converted', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  const { app } = await appWith({
    keys: [{ provider: 'fireworks', value: KEY, baseUrl: stub.url }], env: {}, probe: false
  })
  t.teardown(() => app.close())
  app.post('/sdk', async () => {
    const client = new OpenAI({ apiKey: app.keyguard.key(), baseURL: `${stub.url}/inference/v1`, maxRetries: 0 })
    try {
      return await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    } catch (err) {
      throw Object.freeze(err)
    }
  })
  await app.ready()
  const res = await app.inject({ method: 'POST', url: '/sdk' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED')
})
