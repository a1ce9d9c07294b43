import { Writable } from 'node:stream'
import { APICallError } from '@ai-sdk/provider'
import fastifyJwt from '@fastify/jwt'
import replyFrom from '@fastify/reply-from'
import sensible from '@fastify/sensible'
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import OpenAI from 'openai'
import { test } from 'tap'
import type { Test } from 'tap'
import { interceptors, request } from 'undici'
import keyguard, { FST_KEYGUARD_UPSTREAM_UNAUTHORIZED, PROBLEM_TYPES } from '../index.js'
import type { FastifyKeyguardOptions } from '../index.js'
import { leaks } from './helpers/leak.js'
import { startStub, stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

/** A synthetic key whose every 8-character piece is distinctive. */
const KEY = 'fw_' + 'q7Zt4Vb9Lm2Xc8Rn5Hj3Wd6Kp1Fs0Gy'
const PROBE_PATH = '/v1/accounts/fireworks/models'
const CHAT = '/inference/v1'

/** Upstream words that must never reach the client or the logs. */
const UPSTREAM_TEXT = ['Incorrect API key', 'platform.openai.com', 'upstream_session', 'realm="upstream"']

interface Setup {
  app: FastifyInstance
  stub: Stub
  logs: string[]
  /** The stand-in's hits on the probe path. */
  probes: () => number
}

/**
 * A real stand-in that accepts the key at boot, and a real Fastify app guarding the key with it as the
 * base URL, logging at `trace` into `logs`. `routes` runs before `ready()`.
 */
async function setup (t: Test, options: Partial<FastifyKeyguardOptions> = {}, routes: (app: FastifyInstance, stub: Stub) => void | Promise<void> = () => {}): Promise<Setup> {
  const stub = await startStub({ mode: 'auth', keys: [KEY] })
  const logs: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { logs.push(chunk.toString()); cb() } })
  const app = Fastify({ logger: { level: 'trace', stream } })
  t.teardown(async () => {
    await app.close()
    await stub.close()
  })
  await app.register(keyguard, {
    keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }],
    env: {},
    probe: { interval: 0, retries: 0, timeout: 2_000 },
    ...options
  })
  await routes(app, stub)
  await app.ready()
  return { app, stub, logs, probes: () => stub.requests.filter((r) => r.path.startsWith(PROBE_PATH)).length }
}

/** An openai client for the stand-in, without retries. */
function openai (app: FastifyInstance, stub: Stub, watched: boolean): OpenAI {
  return new OpenAI({ apiKey: app.keyguard.key('fireworks'), baseURL: stub.url + CHAT, maxRetries: 0, ...(watched ? { fetch: app.keyguard.fetch } : {}) })
}

const chat = (client: OpenAI): Promise<unknown> => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })

/** Revokes the key at the stand-in. */
const revoke = (stub: Stub): void => stub.set('auth', { keys: [] })

/**
 * Asserts that a reply is the upstream-credentials problem and carries nothing from the upstream:
 * no upstream text or header, no piece of the key in the status line, headers or body.
 */
function assertProblem (t: Test, res: LightMyRequestResponse, status = 502, extra: { key?: string, requestId?: string | undefined } = {}): Record<string, unknown> {
  t.equal(res.statusCode, status, 'problem status')
  t.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json')
  t.equal(res.headers['cache-control'], 'no-store')
  for (const name of ['www-authenticate', 'set-cookie', 'x-request-id', 'transfer-encoding']) t.notOk(res.headers[name], `no ${name}`)
  const everything = `${res.statusCode} ${res.statusMessage}\n${JSON.stringify(res.headers)}\n${res.body}`
  t.same(leaks(everything, KEY), [], 'no piece of the key in the status line, headers or body')
  for (const text of UPSTREAM_TEXT) t.notOk(everything.includes(text), `no upstream "${text}"`)
  const doc = res.json() as Record<string, unknown>
  t.equal(doc.type, PROBLEM_TYPES.upstreamUnauthorized)
  t.equal(doc.title, 'Upstream credentials rejected')
  t.equal(doc.status, status, 'the status member equals the HTTP status')
  t.match(doc.detail, /server-side problem/)
  t.equal(doc.code, 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED')
  t.type(doc.instance, 'string')
  t.equal(doc.key, extra.key ?? 'fireworks')
  t.equal(doc.provider, 'fireworks')
  if ('requestId' in extra) t.equal(doc.upstreamRequestId, extra.requestId, 'upstream request id')
  t.same(Object.keys(doc).filter((k) => !['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId', 'key', 'provider', 'upstreamRequestId'].includes(k)), [], 'documented members only')
  return doc
}

/** Asserts the logs hold neither the upstream text nor any piece of the key. */
function assertCleanLogs (t: Test, logs: string[]): void {
  const all = logs.join('')
  t.same(leaks(all, KEY), [], 'no piece of the key in the logs')
  for (const text of UPSTREAM_TEXT) t.notOk(all.includes(text), `no upstream "${text}" in the logs`)
}

test('faults #61 #63: an openai AuthenticationError (SDK default fetch) becomes a 502 problem with no upstream text, header or key piece', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    app.post('/chat', async () => chat(openai(app, stub, false)))
  })
  revoke(stub)
  const res = await app.inject({ method: 'POST', url: '/chat?user=1' })
  const doc = assertProblem(t, res, 502, { requestId: 'req_stub_1' })
  t.equal(doc.instance, '/chat', 'instance is the path, without the query')
  t.equal(stub.requests.filter((r) => r.path.startsWith(CHAT)).length, 1, 'the SDK called the stand-in once')
  assertCleanLogs(t, logs)
  t.ok(logs.some((line) => line.includes('"err"') && line.includes('upstream text withheld')), 'the default handler logged the sanitised error')
})

test('faults #61 #63: the same through fetch: app.keyguard.fetch', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    app.post('/chat', async () => chat(openai(app, stub, true)))
  })
  revoke(stub)
  assertProblem(t, await app.inject({ method: 'POST', url: '/chat' }), 502, { requestId: 'req_stub_1' })
  assertProblem(t, await app.inject({ method: 'POST', url: '/chat' }), 502, { requestId: 'req_stub_1' })
  assertCleanLogs(t, logs)
})

test('faults #68: a route that passes the upstream status through after app.keyguard.fetch is converted, even on the first request', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    app.get('/pass', async (_req, reply) => {
      // The watching client is touched for the first time inside the handler.
      const res = await app.keyguard.fetch(stub.url + CHAT + '/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}` } })
      reply.code(res.status).header('www-authenticate', res.headers.get('www-authenticate') ?? '')
      return res.text()
    })
    app.get('/response', async () => app.keyguard.fetch(stub.url + CHAT + '/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}` } }))
  })
  revoke(stub)
  assertProblem(t, await app.inject('/pass'), 502, { requestId: 'req_stub_1' })
  assertProblem(t, await app.inject('/response'), 502, { requestId: 'req_stub_1' })
  assertCleanLogs(t, logs)
})

test('faults #61: a @fastify/reply-from proxy through app.keyguard.dispatcher, its streamed 401 body destroyed cleanly', async (t) => {
  const { app, stub, logs } = await setup(t, {}, async (app, stub) => {
    await app.register(replyFrom, { base: stub.url, undici: app.keyguard.dispatcher })
    app.post('/proxy/*', (req, reply) => reply.from(CHAT + '/' + (req.params as Record<string, string>)['*'], {
      rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: `Bearer ${app.keyguard.key()}` })
    }))
  })
  revoke(stub)
  const res = await app.inject({ method: 'POST', url: '/proxy/chat/completions', payload: { model: 'm' } })
  assertProblem(t, res, 502, { requestId: 'req_stub_1' })
  // The stand-in saw no client credentials beyond ours.
  t.equal(stub.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`)
  // Still serving: the destroyed stream left nothing hanging.
  stub.set('auth', { keys: [KEY] })
  const ok = await app.inject({ method: 'POST', url: '/proxy/chat/completions', payload: { model: 'm' } })
  t.equal(ok.statusCode, 200)
  assertCleanLogs(t, logs)
})

test('faults #67: a streamed upstream 401 over a real socket: the client gets the problem, no hang, no crash', async (t) => {
  const { app, stub } = await setup(t, {}, async (app, stub) => {
    await app.register(replyFrom, { base: stub.url, undici: app.keyguard.dispatcher })
    app.get('/stream', (_req, reply) => reply.from('/big'))
  })
  // A large 401 body, streamed.
  stub.set('huge', { status: 401 })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await fetch(address + '/stream', { signal: AbortSignal.timeout(5_000) })
  t.equal(res.status, 502)
  t.match(res.headers.get('content-type'), /problem\+json/)
  const doc = await res.json() as Record<string, unknown>
  t.equal(doc.status, 502)
  t.equal((await fetch(address + '/livez')).status, 200, 'the server still answers')
})

test('faults #61 #75: a raw undici request() through the dispatcher with responseError() throws ResponseError; without it the route passes the status through', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    const url = stub.url + CHAT + '/chat/completions'
    const headers = (): Record<string, string> => ({ authorization: `Bearer ${app.keyguard.key()}`, 'content-type': 'application/json' })
    app.get('/throws', async () => {
      const res = await request(url, { method: 'POST', body: '{}', headers: headers(), dispatcher: app.keyguard.dispatcher.compose(interceptors.responseError()) })
      return res.body.json()
    })
    app.get('/passes', async (_req, reply) => {
      const res = await request(url, { method: 'POST', body: '{}', headers: headers(), dispatcher: app.keyguard.dispatcher })
      return reply.code(res.statusCode).headers(res.headers).send(await res.body.text())
    })
  })
  revoke(stub)
  assertProblem(t, await app.inject('/throws'), 502, { requestId: 'req_stub_1' })
  assertProblem(t, await app.inject('/passes'), 502, { requestId: 'req_stub_1' })
  assertCleanLogs(t, logs)
})

test('faults #61: a Vercel AI SDK APICallError, bare and inside a RetryError', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    const error = (): APICallError => new APICallError({
      message: `Incorrect API key provided: ${KEY.slice(0, 8)}****${KEY.slice(-4)}`,
      url: stub.url + CHAT + '/chat/completions',
      requestBodyValues: { model: 'm' },
      statusCode: 401,
      responseHeaders: { 'x-request-id': 'req_ai_1', 'www-authenticate': 'Bearer realm="upstream"' },
      responseBody: '{"error":{"message":"Incorrect API key provided"}}'
    })
    app.get('/ai', async () => { throw error() })
    app.get('/retry', async () => {
      const last = error()
      throw Object.assign(new Error(`Failed after 3 attempts. Last error: ${last.message}`), { name: 'AI_RetryError', reason: 'maxRetriesExceeded', lastError: last, errors: [last] })
    })
  })
  assertProblem(t, await app.inject('/ai'), 502, { requestId: 'req_ai_1' })
  assertProblem(t, await app.inject('/retry'), 502, { requestId: 'req_ai_1' })
  assertCleanLogs(t, logs)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(stub.hits >= 1, true)
})

test('faults #61: @anthropic-ai/sdk-shaped and Mistral-shaped SDK errors', async (t) => {
  const { app, logs } = await setup(t, {}, (app) => {
    app.get('/anthropic', async () => {
      const body = { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_011' }
      throw Object.assign(new Error('401 ' + JSON.stringify(body)), { name: 'AuthenticationError', status: 401, headers: new Headers({ 'request-id': 'req_011', 'www-authenticate': 'Bearer' }), requestID: 'req_011', error: body, type: 'authentication_error' })
    })
    app.get('/mistral', async () => {
      const text = `{"detail":"Incorrect API key provided: ${KEY}"}`
      const rawResponse = new Response(text, { status: 401, headers: { 'content-type': 'application/json', 'x-request-id': 'req_mistral_1', 'set-cookie': 'upstream_session=abc' } })
      throw Object.assign(new Error(`API error occurred: Status 401 Content-Type application/json Body: ${text}`), { name: 'SDKError', statusCode: 401, body: text, contentType: 'application/json', headers: rawResponse.headers, rawResponse })
    })
  })
  assertProblem(t, await app.inject('/anthropic'), 502, { requestId: 'req_011' })
  assertProblem(t, await app.inject('/mistral'), 502, { requestId: 'req_mistral_1' })
  assertCleanLogs(t, logs)
})

test('the problem.recognise predicate: true, a key name, false, and a predicate that throws', async (t) => {
  class AcmeAuthError extends Error {
    constructor () { super(`acme says: key ${KEY} revoked`) }
  }
  class Boom extends Error {}
  const { app, logs } = await setup(t, {
    keys: [{ name: 'fireworks', value: KEY, baseUrl: 'http://127.0.0.1:9' }, { name: 'acme', provider: 'fireworks', value: KEY, probe: false }],
    onUnreachable: 'warn',
    problem: {
      recognise: (err) => {
        if (err instanceof Boom) throw new Error('predicate bug')
        if (err instanceof AcmeAuthError) return err.message.includes('named') ? 'acme' : true
        return false
      }
    }
  }, (app) => {
    app.get('/acme', { config: { keyguard: 'fireworks' } }, async () => { throw new AcmeAuthError() })
    app.get('/named', async () => { throw Object.assign(new AcmeAuthError(), { message: 'named' }) })
    app.get('/other', async () => { throw new Error('plain') })
    app.get('/boom', async () => { throw new Boom('boom') })
  })
  t.equal((await app.inject('/acme')).statusCode, 502)
  const named = await app.inject('/named')
  t.equal(named.statusCode, 502)
  t.equal(named.json().key, 'acme')
  t.equal(named.json().provider, 'fireworks')
  const other = await app.inject('/other')
  t.equal(other.statusCode, 500, 'a false verdict leaves the error alone')
  t.equal(other.json().message, 'plain')
  t.equal((await app.inject('/boom')).statusCode, 500, 'a throwing predicate counts as not recognised')
  t.ok(logs.some((line) => line.includes('problem.recognise predicate threw')))
  assertCleanLogs(t, logs)
})

test("the application's own 401s stay 401 with their own body and headers", async (t) => {
  const { app, stub } = await setup(t, {}, async (app) => {
    await app.register(fastifyJwt, { secret: 'test-secret-not-a-key' })
    await app.register(sensible)
    app.get('/own', async (_req, reply) => reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'log in' }))
    app.get('/jwt', async (req) => req.jwtVerify())
    app.get('/sensible', async (_req, reply) => reply.unauthorized('who are you'))
    app.get('/http-errors', async () => {
      throw app.httpErrors.unauthorized('who are you', { headers: { 'WWW-Authenticate': 'Basic realm="app"' } } as never)
    })
    app.get('/http-errors-create', async () => {
      throw app.httpErrors.createError(401, 'who are you', { headers: { 'WWW-Authenticate': 'Basic realm="app"' } })
    })
  })
  const own = await app.inject('/own')
  t.equal(own.statusCode, 401)
  t.equal(own.headers['www-authenticate'], 'Bearer')
  t.same(own.json(), { error: 'log in' })
  const jwt = await app.inject('/jwt')
  t.equal(jwt.statusCode, 401)
  t.equal(jwt.json().code, 'FST_JWT_NO_AUTHORIZATION_IN_HEADER')
  const sens = await app.inject('/sensible')
  t.equal(sens.statusCode, 401)
  t.equal(sens.json().message, 'who are you')
  for (const url of ['/http-errors', '/http-errors-create']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 401, url)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.json().message, 'who are you')
  }
  t.equal((await app.inject('/http-errors-create')).headers['www-authenticate'], 'Basic realm="app"', 'the app\'s own challenge is kept')
  t.equal(stub.requests.filter((r) => r.path.startsWith(PROBE_PATH)).length, 1, 'no recheck: only the boot probe')
})

test('an app setErrorHandler that maps the openai 401 to 400 or 503 is respected', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    app.setErrorHandler((err: Error & { status?: number }, req, reply) => {
      const status = err.status === 401 ? ((req.query as { to?: string }).to === '503' ? 503 : 400) : 500
      return reply.code(status).send({ mine: true, message: err.message })
    })
    app.post('/chat', async () => chat(openai(app, stub, false)))
  })
  revoke(stub)
  const four = await app.inject({ method: 'POST', url: '/chat?to=400' })
  t.equal(four.statusCode, 400)
  t.equal(four.json().mine, true)
  t.match(four.json().message, /upstream text withheld/, 'the handler saw the sanitised error')
  const five = await app.inject({ method: 'POST', url: '/chat?to=503' })
  t.equal(five.statusCode, 503)
  t.equal(five.json().mine, true)
  assertCleanLogs(t, logs)
})

test('problem: false leaves the SDK 401 alone', async (t) => {
  const { app, stub } = await setup(t, { problem: false }, (app, stub) => {
    app.post('/chat', async () => chat(openai(app, stub, false)))
  })
  revoke(stub)
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 401)
  t.match(res.json().message, /Incorrect API key/)
  const explicit = await app.inject({ method: 'POST', url: '/nothing' })
  t.equal(explicit.statusCode, 404)
})

test('problem: { status: 503 } answers 503 with Retry-After', async (t) => {
  const { app, stub } = await setup(t, { problem: { status: 503, type: 'https://example.com/problems/upstream' } }, (app, stub) => {
    app.post('/chat', async () => chat(openai(app, stub, false)))
    app.get('/explicit', (_req, reply) => reply.upstreamUnauthorized())
  })
  revoke(stub)
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 503)
  t.match(res.headers['retry-after'], /^\d+$/)
  t.equal(res.json().type, 'https://example.com/problems/upstream')
  t.equal(res.json().status, 503)
  const explicit = await app.inject('/explicit')
  t.equal(explicit.statusCode, 503)
  t.match(explicit.headers['retry-after'], /^\d+$/)
})

test("reply.upstreamUnauthorized('fireworks') and throwing FST_KEYGUARD_UPSTREAM_UNAUTHORIZED", async (t) => {
  const { app, probes } = await setup(t, {}, (app) => {
    app.get('/reply', (_req, reply) => reply.upstreamUnauthorized('fireworks'))
    app.get('/throw', async () => { throw new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('fireworks') })
    app.get('/unknown', (_req, reply) => reply.upstreamUnauthorized('nope'))
  })
  assertProblem(t, await app.inject('/reply'))
  assertProblem(t, await app.inject('/throw'))
  const unknown = await app.inject('/unknown')
  t.equal(unknown.statusCode, 500)
  t.match(unknown.json().message, /not a guarded key/)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(probes(), 2, 'the first explicit report rechecked the key once; the next fell in the gap')
})

test('faults #70 #96: runtime revocation flips readiness after the first converted 401; a burst of 200 causes at most one extra probe; gated routes then fast-fail', async (t) => {
  // One process serves the burst, the stand-in and the probe: give the probe room.
  const { app, stub, probes, logs } = await setup(t, { probe: { interval: 0, retries: 0, timeout: 20_000 } }, (app, stub) => {
    app.post('/chat', { config: { keyguard: 'fireworks' } }, async () => chat(openai(app, stub, true)))
  })
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready at boot')
  t.equal(probes(), 1)
  revoke(stub)
  const burst = await Promise.all(Array.from({ length: 200 }, () => app.inject({ method: 'POST', url: '/chat' })))
  t.ok(burst.every((res) => res.statusCode === 502 || res.statusCode === 503), 'every reply is a problem')
  t.ok(burst.every((res) => /problem\+json/.test(String(res.headers['content-type']))))
  let ready = 200
  for (let i = 0; i < 50 && ready !== 503; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    ready = (await app.inject('/readyz')).statusCode
  }
  t.equal(ready, 503, 'readiness flipped within a second', { report: app.keyguard.report() })
  t.equal(probes(), 2, 'one extra probe for the whole burst')
  const hits = stub.hits
  const gated = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'POST', url: '/chat' })))
  t.ok(gated.every((res) => res.statusCode === 503 && /^\d+$/.test(String(res.headers['retry-after']))), 'gated route fast-fails with 503 and Retry-After')
  t.equal(gated[0]?.json().code, 'FST_KEYGUARD_KEY_FAILING')
  t.equal(stub.hits, hits, 'no upstream call while the key is known bad')
  assertCleanLogs(t, logs)
  t.equal(logs.filter((line) => line.includes('rechecking it')).length, 1, 'one suspicion logged, not 200')
})

test('faults #70: after the first converted 401, /readyz turns 503 within a second and 1 000 gated requests make no upstream call', async (t) => {
  const { app, stub, probes } = await setup(t, {}, (app, stub) => {
    app.post('/chat', { config: { keyguard: ['fireworks'] } }, async () => chat(openai(app, stub, true)))
  })
  revoke(stub)
  const first = await app.inject({ method: 'POST', url: '/chat' })
  assertProblem(t, first, 502, { requestId: 'req_stub_1' })
  const since = performance.now()
  let ready = (await app.inject('/readyz')).statusCode
  while (ready !== 503 && performance.now() - since < 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    ready = (await app.inject('/readyz')).statusCode
  }
  t.equal(ready, 503, 'readiness 503 within a second')
  t.equal(probes(), 2, 'one recheck')
  const hits = stub.hits
  for (let i = 0; i < 1_000; i++) {
    const res = await app.inject({ method: 'POST', url: '/chat' })
    if (res.statusCode !== 503) t.fail(`request ${i} answered ${res.statusCode}`)
  }
  t.equal(stub.hits, hits, 'zero upstream calls')
})

test("the watching client: a provider's own invalid-key answer (Gemini 400 API_KEY_INVALID) marks the request; other 4xx/5xx and large bodies do not", async (t) => {
  const GEMINI = 'AIzaSy' + 'Qm4Tz8Rw2Yx6Bv0Nc3Kd7Lf1Hg5Jp9Sa2De'
  const stub = await startStub({ mode: 'auth', keys: [GEMINI] })
  const app = Fastify()
  t.teardown(async () => {
    await app.close()
    await stub.close()
  })
  await app.register(keyguard, { keys: [{ name: 'gemini', value: GEMINI, baseUrl: stub.url }], env: {}, probe: { interval: 0, retries: 0, timeout: 2_000 } })
  app.get('/models', async (_req, reply) => {
    const res = await app.keyguard.fetch(stub.url + '/v1beta/models?pageSize=1', { headers: { 'x-goog-api-key': app.keyguard.key() } })
    return reply.code(res.status).type('application/json').send(await res.text())
  })
  await app.ready()
  stub.set('auth', { keys: [] })
  const res = await app.inject('/models')
  t.equal(res.statusCode, 502, 'the passed-through 400 is converted')
  t.equal(res.json().key, 'gemini')
  t.notOk(res.body.includes('API_KEY_INVALID'))
  // Not the provider's invalid-key answer: passed through as the route sent it.
  stub.set('custom', { status: 400, body: 'x'.repeat(10_000), contentType: 'text/plain' })
  t.equal((await app.inject('/models')).statusCode, 400, 'a large non-JSON 400 is not a key rejection')
  stub.set('500')
  t.equal((await app.inject('/models')).statusCode, 500, 'a 5xx is not a key rejection')
  stub.set('ok')
  t.equal((await app.inject('/models')).statusCode, 200)
})

test('the watching client: a URL origin, an unguarded origin, multi-valued headers and an upgrade', async (t) => {
  const { createServer } = await import('node:http')
  const server = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-request-id': 'req_multi' })
    res.end('{"error":"Invalid credentials"}')
  })
  server.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const guarded = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const unguarded = await stubFor(t, { mode: '401json' })
  const { app, probes } = await setup(t, {
    keys: [{ name: 'fireworks', value: KEY, baseUrl: guarded + '/gw', probe: false }]
  }, (app) => {
    app.get('/url-origin', async (_req, reply) => {
      const res = await app.keyguard.dispatcher.request({ origin: new URL(guarded), path: '/gw/v1/models', method: 'GET' })
      await res.body.dump()
      return reply.code(res.statusCode).send({ upstream: res.statusCode })
    })
    app.get('/elsewhere', async (_req, reply) => {
      const res = await request(unguarded.url + '/v1/models', { dispatcher: app.keyguard.dispatcher })
      return reply.code(res.statusCode).headers({ 'www-authenticate': String(res.headers['www-authenticate']) }).send(await res.body.text())
    })
    app.get('/outside', async (_req, reply) => {
      const res = await request(guarded + '/other/v1/models', { dispatcher: app.keyguard.dispatcher })
      await res.body.dump()
      return reply.code(res.statusCode).send({ upstream: res.statusCode })
    })
    app.get('/upgrade', async () => {
      // An Agent's upgrade needs the origin, which undici's UpgradeOptions type leaves out.
      const upgrade = app.keyguard.dispatcher.upgrade.bind(app.keyguard.dispatcher) as unknown as (opts: object) => Promise<{ headers: Record<string, unknown>, socket: { destroy: () => void } }>
      const { headers, socket } = await upgrade({ origin: guarded, path: '/gw/ws', protocol: 'websocket' })
      socket.destroy()
      return { upgraded: headers.upgrade }
    })
  })
  const res = await app.inject('/url-origin')
  t.equal(res.statusCode, 502)
  t.equal(res.json().upstreamRequestId, 'req_multi')
  const elsewhere = await app.inject('/elsewhere')
  t.equal(elsewhere.statusCode, 401, "another origin's 401 is the route's business")
  t.equal(elsewhere.headers['www-authenticate'], 'Basic realm="upstream"')
  t.equal((await app.inject('/outside')).statusCode, 401, 'the same origin outside the base path is not guarded')
  t.same((await app.inject('/upgrade')).json(), { upgraded: 'websocket' }, 'upgrades pass through the watcher')
  t.equal(probes(), 0)
})

test('faults #63 #66: a route that throws the upstream text, and HTML/plain/empty 401 bodies, still give valid problem+json; logs stay clean', async (t) => {
  const { app, stub, logs } = await setup(t, {}, (app, stub) => {
    const call = (): Promise<Response> => app.keyguard.fetch(stub.url + CHAT + '/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}` } })
    app.get('/throws-text', async () => {
      const res = await call()
      throw new Error('upstream said: ' + await res.text())
    })
    app.get('/passes', async (_req, reply) => {
      const res = await call()
      return reply.code(res.status).type(res.headers.get('content-type') ?? 'text/plain').send(await res.text())
    })
  })
  revoke(stub)
  assertProblem(t, await app.inject('/throws-text'), 502, { requestId: 'req_stub_1' })
  for (const mode of ['401html', '401text', '401empty', '401lying'] as const) {
    stub.set(mode)
    const res = await app.inject('/passes')
    assertProblem(t, res, 502)
    t.notOk(res.body.includes('<html') || res.body.includes('openresty'), `${mode}: no HTML or upstream text`)
  }
  assertCleanLogs(t, logs)
})
