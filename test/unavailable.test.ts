import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import OpenAI from 'openai'
import { appWith, canary, leaks } from './helpers/app.js'
import type { Logs } from './helpers/app.js'
import { startStub, stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

// `problem: { unavailable: true }`: an upstream that cannot serve (429, 408, 5xx, no answer) during a
// client request becomes a problem document, never the upstream's own status and text.

const CHAT = '/inference/v1'
const chat = (client: OpenAI): Promise<unknown> => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })

async function setup (t: Test, routes: (app: FastifyInstance, stub: Stub, key: string) => void, unavailable = true): Promise<{ app: FastifyInstance, stub: Stub, key: string, logs: Logs }> {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: key }, probe: { interval: 0 }, problem: { unavailable } })
  t.teardown(() => app.close())
  routes(app, stub, key)
  await app.ready()
  return { app, stub, key, logs }
}

function isProblem (t: Test, res: { statusCode: number, headers: Record<string, unknown>, body: string }, status: number, key: string): void {
  t.equal(res.statusCode, status)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.headers['cache-control'], 'no-store')
  for (const header of ['x-request-id', 'set-cookie', 'www-authenticate']) t.notOk(header in res.headers, `no upstream ${header}`)
  const doc = JSON.parse(res.body) as Record<string, unknown>
  t.match(doc, { type: 'https://github.com/fastify-keyguard/fastify-keyguard/blob/HEAD/docs/problems.md#upstream-unavailable', title: 'Upstream unavailable', status, code: 'FST_KEYGUARD_UPSTREAM_UNAVAILABLE', key: 'fireworks', provider: 'fireworks' })
  t.notMatch(res.body, /Rate limit reached|Service Overloaded|Error listing|Connection error|127\.0\.0\.1/, 'no upstream text or address')
  t.same(leaks(res.body + JSON.stringify(res.headers), key), [])
}

test('faults #65: an upstream 429 through openai-node becomes 503 problem+json with the upstream Retry-After', async (t) => {
  const { app, stub, key, logs } = await setup(t, (app, stub) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0 })))
  })
  stub.set('429', { retryAfter: '7', keys: [key] })
  const probes = stub.hits
  const res = await app.inject({ method: 'POST', url: '/chat' })
  isProblem(t, res, 503, key)
  t.equal(res.headers['retry-after'], '7')
  t.match(res.json().detail, /not a problem with your request; retry later/)
  t.equal(stub.hits, probes + 1, 'no recheck of the key: an unavailable upstream says nothing about it')
  t.equal((await app.inject('/readyz')).statusCode, 200)
  t.same(leaks(logs.text(), key), [])
  t.notMatch(logs.text(), /Rate limit reached/, 'the upstream text is withheld from the logs too')
})

test('faults #65: a junk Retry-After is not passed on; a 5xx is 502; Retry-After past the cap is capped', async (t) => {
  const { app, stub, key } = await setup(t, (app, stub) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0 })))
  })
  stub.set('503', { retryAfter: '0x10', keys: [key] })
  let res = await app.inject({ method: 'POST', url: '/chat' })
  isProblem(t, res, 503, key)
  t.notOk('retry-after' in res.headers, 'junk is dropped, never forwarded')
  stub.set('503', { retryAfter: '86400', keys: [key] })
  res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.headers['retry-after'], '300', 'capped at five minutes')
  stub.set('500', { keys: [key] })
  res = await app.inject({ method: 'POST', url: '/chat' })
  isProblem(t, res, 502, key)
})

test('faults #64: a refused connection through keyguard.fetch is 502, an SDK timeout 504', async (t) => {
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const key = canary()
  const stub = await stubFor(t, { keys: [key], mode: 'hang' })
  const { app, logs } = await appWith({
    keys: [{ provider: 'fireworks', baseUrl: stub.url, probe: false }, { name: 'down', provider: 'openai', baseUrl: `http://127.0.0.1:${port}`, probe: false }],
    env: { FIREWORKS_API_KEY: key, OPENAI_API_KEY: 'sk-proj-' + 'D'.repeat(40) },
    problem: { unavailable: true }
  })
  t.teardown(() => app.close())
  app.post('/refused', { config: { keyguard: 'down' } }, async () => chat(new OpenAI({ apiKey: 'sk-proj-' + 'D'.repeat(40), baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, fetch: app.keyguard.fetch })))
  app.post('/slow', { config: { keyguard: 'fireworks' } }, async () => chat(new OpenAI({ apiKey: key, baseURL: stub.url + CHAT, maxRetries: 0, timeout: 150 })))
  app.post('/raw', async () => { await app.keyguard.fetch(`http://127.0.0.1:${port}/v1/models`); return 'unreachable' })
  await app.ready()
  const refused = await app.inject({ method: 'POST', url: '/refused' })
  t.equal(refused.statusCode, 502)
  t.match(refused.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAVAILABLE', key: 'down', provider: 'openai' })
  const slow = await app.inject({ method: 'POST', url: '/slow' })
  isProblem(t, slow, 504, key)
  const raw = await app.inject({ method: 'POST', url: '/raw' })
  t.equal(raw.statusCode, 502, 'a fetch that failed through the watching client, whatever the error')
  t.equal(raw.json().key, 'down')
  t.notMatch(logs.text(), /ECONNREFUSED 127/, 'the logged error is the sanitised one')
})

test('faults #65: a route passing an upstream 503 through keyguard.fetch is converted', async (t) => {
  const { app, stub, key } = await setup(t, (app, stub) => {
    app.get('/pass', async (_request, reply) => {
      const res = await app.keyguard.fetch(`${stub.url}${CHAT}/models`, { headers: { authorization: `Bearer ${app.keyguard.key()}` } })
      return reply.code(res.status).header('x-request-id', res.headers.get('x-request-id') ?? '').send(await res.text())
    })
  })
  stub.set('503', { retryAfter: '12', keys: [key] })
  const res = await app.inject('/pass')
  isProblem(t, res, 503, key)
  t.equal(res.headers['retry-after'], '12')
  t.equal(res.json().upstreamRequestId, 'req_stub_1')
  stub.set('ok')
  const ok = await app.inject('/pass')
  t.equal(ok.statusCode, 200, 'a healthy answer is untouched')
})

test('a rejected key outranks an unavailable answer in the same request', async (t) => {
  const [keyA, keyB] = [canary(), canary()]
  const a = await startStub({ mode: '503', keys: [keyA] })
  const b = await startStub({ keys: [keyB] })
  t.teardown(() => a.close())
  t.teardown(() => b.close())
  const { app } = await appWith({
    keys: [{ name: 'a', provider: 'fireworks', baseUrl: a.url, probe: false }, { name: 'b', provider: 'fireworks', env: 'B_KEY', baseUrl: b.url, probe: false }],
    env: { FIREWORKS_API_KEY: keyA, B_KEY: keyB },
    problem: { unavailable: true }
  })
  t.teardown(() => app.close())
  app.get('/both', async () => {
    await app.keyguard.fetch(`${a.url}${CHAT}/models`)
    const res = await app.keyguard.fetch(`${b.url}${CHAT}/models`, { headers: { authorization: 'Bearer fw_not_it' } })
    throw Object.assign(new Error('upstream failed'), { statusCode: res.status })
  })
  await app.ready()
  const res = await app.inject('/both')
  t.equal(res.statusCode, 502)
  t.match(res.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'b' })
})

test('what stays as it is: the option off, the application\'s own mapping, errors not tied to a guarded upstream', async (t) => {
  const off = await setup(t, (app, stub) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0 })))
  }, false)
  off.stub.set('429', { keys: [off.key] })
  t.equal((await off.app.inject({ method: 'POST', url: '/chat' })).statusCode, 429, 'without problem.unavailable the SDK\'s status passes')

  const { app, stub, key } = await setup(t, (app, stub) => {
    app.register(async (scope) => {
      scope.setErrorHandler((_err, _request, reply) => reply.code(400).send({ mine: true }))
      scope.post('/mapped', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0 })))
    })
    app.get('/db', async () => { throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' }) })
  })
  stub.set('429', { keys: [key] })
  const mapped = await app.inject({ method: 'POST', url: '/mapped' })
  t.equal(mapped.statusCode, 400)
  t.same(mapped.json(), { mine: true })
  const db = await app.inject('/db')
  t.equal(db.statusCode, 500, 'a database error is not keyguard\'s to convert')
  t.match(db.headers['content-type'], /^application\/json/)
})
