import Fastify from 'fastify'
import type { FastifyInstance, RouteOptions } from 'fastify'
import OpenAI from 'openai'
import { test } from 'tap'
import type { Test } from 'tap'
import keyguard, { FST_KEYGUARD_KEY_FAILING, FST_KEYGUARD_UPSTREAM_UNAUTHORIZED, PROBLEM_TYPES } from '../index.js'
import type { FastifyKeyguardOptions } from '../index.js'
import { instanceOf, problemDocument, sendProblem } from '../lib/fastify/problem.js'
import { booted, logs } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

const KEY = 'fw_' + 'q7Zt4Vb9Lm2Xc8Rn5Hj3Wd6Kp1Fs0Gy'
const OTHER = 'fw_' + 'Hx2Wq9Ld4Rt7Mv1Bn6Kc3Pz8Gs5Jy0Fa'
const MEMBERS = ['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId', 'key', 'provider', 'upstreamRequestId']

/** An app guarding `fireworks` (and `backup` when asked) at the stand-in; `routes` runs before `ready()`. */
async function appFor (t: Test, stub: Stub, options: Partial<FastifyKeyguardOptions> = {}, routes: (app: FastifyInstance) => void = () => {}): Promise<FastifyInstance> {
  const base = { keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }], env: {}, probe: { interval: 0, retries: 0, timeout: 2_000 } }
  return (await booted(t, { ...base, ...options }, { logger: false }, routes)).app
}

const twoKeys = (stub: Stub, probe = true): Partial<FastifyKeyguardOptions> => ({
  keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }, { name: 'backup', provider: 'fireworks', value: OTHER, baseUrl: stub.url + '/backup', probe }]
})

test('faults #62: problemDocument has the fixed members, documented extensions only, and takes type and status overrides', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/p/:id', async (request) => [
    problemDocument(new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('fireworks'), request, {}),
    problemDocument(new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('fireworks'), request, { type: 'https://example.com/p', status: 503, key: 'fireworks', provider: 'fireworks', upstreamRequestId: 'req_1' }),
    problemDocument(new FST_KEYGUARD_KEY_FAILING('fireworks'), request, { key: undefined, provider: undefined, upstreamRequestId: undefined })
  ])
  const [plain, full, failing] = (await app.inject('/p/1?api_key=secret-in-query')).json() as Array<Record<string, unknown>>
  t.same(Object.keys(plain ?? {}), ['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId'])
  t.equal(plain?.type, PROBLEM_TYPES.upstreamUnauthorized)
  t.equal(plain?.status, 502)
  t.equal(plain?.instance, '/p/1', 'instance has no query string')
  t.match(plain?.detail, /"fireworks"/)
  t.type(plain?.requestId, 'string')
  t.same(Object.keys(full ?? {}), MEMBERS)
  t.equal(full?.type, 'https://example.com/p')
  t.equal(full?.status, 503)
  t.equal(full?.upstreamRequestId, 'req_1')
  t.equal(failing?.type, PROBLEM_TYPES.keyFailing)
  t.equal(failing?.status, 503)
  t.equal(failing?.code, 'FST_KEYGUARD_KEY_FAILING')
  t.notOk(Object.hasOwn(failing ?? {}, 'key'), 'undefined extensions are left out')
})

test('instanceOf strips the query string; sendProblem sends problem+json, no-store, and Retry-After only when given', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/a', async (request, reply) => {
    t.equal(instanceOf(request), '/a')
    return sendProblem(reply, problemDocument(new FST_KEYGUARD_KEY_FAILING('fireworks'), request, {}), 7)
  })
  app.get('/b', async (request, reply) => {
    t.equal(instanceOf(request), '/b')
    return sendProblem(reply, problemDocument(new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('fireworks'), request, {}))
  })
  const a = await app.inject('/a?key=x')
  t.equal(a.statusCode, 503)
  t.equal(a.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(a.headers['cache-control'], 'no-store')
  t.equal(a.headers['retry-after'], '7')
  t.equal(a.json().status, a.statusCode)
  const b = await app.inject('/b')
  t.equal(b.statusCode, 502)
  t.notOk(b.headers['retry-after'])
})

test('the route gate: bad config.keyguard values are refused at registration', async (t) => {
  const stub = await stubFor(t, { keys: [KEY, OTHER] })
  for (const [value, pattern] of [
    [42, /must be a key name or a non-empty array of key names/],
    [[], /non-empty array/],
    [['fireworks', 7], /non-empty array/],
    ['nope', /names a key that is not guarded \(the name is not repeated here: it may be a key pasted by mistake\); guarded keys: fireworks$/]
  ] as Array<[unknown, RegExp]>) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(keyguard, { keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }], env: {}, probe: false })
    t.throws(() => app.get('/x', { config: { keyguard: value as string } }, async () => 'x'), { code: 'FST_KEYGUARD_OPTIONS', message: pattern })
  }
})

test('faults #70: the route gate answers 503 problem+json with Retry-After without running the handler; ungated and other-key routes run', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  let ran = 0
  const own = (_req: unknown, _reply: unknown, done: () => void): void => { ran += 100; done() }
  const app = await appFor(t, stub, { ...twoKeys(stub), onInvalid: 'degrade' }, (app) => {
    app.get('/gated', { config: { keyguard: 'backup' } }, async () => { ran++; return 'ran' })
    app.get('/both', { config: { keyguard: ['fireworks', 'backup'] }, onRequest: own }, async () => { ran++; return 'ran' })
    app.get('/fine', { config: { keyguard: ['fireworks'] }, onRequest: [own] }, async () => { ran++; return 'ran' })
    app.get('/free', async () => { ran++; return 'ran' })
  })
  t.equal(app.keyguard.report().checks.backup?.status, 'fail', 'the backup key was rejected at boot (degraded)')
  for (const url of ['/gated', '/both']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 503, url)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.headers['retry-after'], /^\d+$/)
    const doc = res.json()
    t.equal(doc.code, 'FST_KEYGUARD_KEY_FAILING')
    t.equal(doc.key, 'backup')
    t.equal(doc.provider, 'fireworks')
    t.equal(doc.instance, url)
    t.same(Object.keys(doc).filter((k: string) => !MEMBERS.includes(k)), [])
    const head = await app.inject({ method: 'HEAD', url })
    t.equal(head.statusCode, 503, `HEAD ${url} is gated too`)
  }
  t.equal(ran, 0, 'neither the handlers nor the route\'s own onRequest hooks ran')
  t.equal((await app.inject('/fine')).body, 'ran')
  t.equal((await app.inject('/free')).body, 'ran')
  t.equal(ran, 102)
})

test('a route registered from another route\'s options is gated once, by the one global gate', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const { logs: captured, stream } = logs()
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }], env: {}, probe: { interval: 0, retries: 0, timeout: 2_000 }, onInvalid: 'degrade' })
  const seen: RouteOptions[] = []
  app.addHook('onRoute', (route) => { if (route.url === '/original') seen.push(route) })
  app.get('/original', { config: { keyguard: 'fireworks' }, exposeHeadRoute: false }, async () => 'ok')
  const clone = seen[0] as RouteOptions
  app.route({ ...clone, url: '/clone' })
  t.equal(clone.onRequest, undefined, 'keyguard adds no route-level hook')
  await app.ready()
  stub.set('auth', { keys: [] })
  await app.keyguard.recheck()
  const res = await app.inject('/clone')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_KEYGUARD_KEY_FAILING')
  t.equal(captured.records().filter((line) => /gated route refused/.test(String(line.msg))).length, 1, 'refused once')
})

test('several keys: the error URL, the route\'s single gated key, or no key at all', async (t) => {
  const stub = await stubFor(t, { keys: [KEY, OTHER] })
  // The backup key is not probed, so its suspicion never gates the routes below.
  const app = await appFor(t, stub, twoKeys(stub, false), (app) => {
    const client = (): OpenAI => new OpenAI({ apiKey: app.keyguard.key('backup'), baseURL: stub.url + '/inference/v1', maxRetries: 0 })
    const chat = (): Promise<unknown> => client().chat.completions.create({ model: 'm', messages: [] })
    app.get('/single-gate', { config: { keyguard: ['backup'] } }, chat)
    app.get('/string-gate', { config: { keyguard: 'backup' } }, chat)
    app.get('/two-gates', { config: { keyguard: ['fireworks', 'backup'] } }, chat)
    app.get('/ungated', chat)
    const aiError = (url: string): Error => Object.assign(new Error('Invalid API key'), { name: 'AI_APICallError', statusCode: 401, url })
    app.get('/by-url', { config: { keyguard: 'fireworks' } }, async () => { throw aiError(stub.url + '/backup/inference/v1/chat/completions') })
    app.get('/bad-url', { config: { keyguard: 'backup' } }, async () => { throw aiError('not a url') })
    app.get('/explicit', (_req, reply) => reply.upstreamUnauthorized())
    app.get('/throw-unknown', async () => { throw new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('nope') })
    app.get('/throw-empty', async () => { throw new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('') })
  })
  stub.set('auth', { keys: [] })
  t.equal((await app.inject('/single-gate')).json().key, 'backup')
  t.equal((await app.inject('/string-gate')).json().key, 'backup')
  t.equal((await app.inject('/by-url')).json().key, 'backup', 'the error URL wins over the route gate')
  t.equal((await app.inject('/bad-url')).json().key, 'backup', 'an unparseable URL falls back to the gate')
  for (const url of ['/two-gates', '/ungated', '/explicit', '/throw-unknown', '/throw-empty']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 502, url)
    t.notOk(Object.hasOwn(res.json(), 'key'), `${url}: no key named when it cannot be told`)
    t.notOk(Object.hasOwn(res.json(), 'provider'))
    t.match(res.json().detail, /"upstream"/)
  }
})

test('problem: { status: 503 } without a known key: Retry-After from every key', async (t) => {
  const stub = await stubFor(t, { keys: [KEY, OTHER] })
  const app = await appFor(t, stub, { ...twoKeys(stub), problem: { status: 503 } }, (app) => {
    app.get('/explicit', (_req, reply) => reply.upstreamUnauthorized())
    app.get('/thrown', async () => { throw Object.assign(new Error('401'), { status: 401, headers: new Headers() }) })
  })
  for (const url of ['/explicit', '/thrown']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 503, url)
    t.equal(res.headers['retry-after'], '60', 'no check scheduled (interval 0): the default')
  }
})

test('conversion edges: a status the route set before throwing, a recovered upstream 401, a 500 after it, a web stream payload', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const url = (): string => stub.url + '/inference/v1/chat/completions'
  const call = (app: FastifyInstance): Promise<Response> => app.keyguard.fetch(url(), { method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}` } })
  const app = await appFor(t, stub, {}, (app) => {
    // The status the route set stays Fastify's answer to an error without one: it is converted.
    app.get('/coded', async (_req, reply) => {
      reply.code(409)
      throw Object.assign(new Error('upstream said no'), { name: 'Unauthorized', data$: {} })
    })
    app.get('/coded-other', async (_req, reply) => {
      reply.code(200)
      throw Object.assign(new Error('upstream said no'), { name: 'Unauthorized', data$: {} })
    })
    app.get('/recovered', async () => {
      const res = await call(app)
      await res.text()
      return { fallback: true }
    })
    app.get('/failed', async (_req, reply) => {
      const res = await call(app)
      return reply.code(500).send({ upstream: await res.text() })
    })
    app.get('/web-stream', async (_req, reply) => {
      const res = await call(app)
      return reply.code(res.status).send(res.body)
    })
  })
  stub.set('auth', { keys: [] })
  const coded = await app.inject('/coded')
  t.equal(coded.statusCode, 502)
  t.equal((await app.inject('/coded-other')).statusCode, 502)
  const recovered = await app.inject('/recovered')
  t.equal(recovered.statusCode, 200, 'a route that recovered keeps its answer')
  t.same(recovered.json(), { fallback: true })
  const failed = await app.inject('/failed')
  t.equal(failed.statusCode, 502, 'a 500 after an upstream 401 is converted')
  t.notOk(failed.body.includes('Incorrect API key'))
  const web = await app.inject('/web-stream')
  t.equal(web.statusCode, 502, 'a web stream payload is cancelled and replaced')
  t.notOk(web.body.includes('Incorrect API key'))
})
