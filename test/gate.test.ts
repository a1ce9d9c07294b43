import { test } from 'tap'
import Fastify from 'fastify'
import keyguard from '../index.js'
import { appWith } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'

const GOOD = 'fw_' + 'K'.repeat(32)
const BAD = 'fw_' + 'L'.repeat(32)
const OPENAI = 'sk-proj-' + 'M'.repeat(40)

test('faults #70: a gated route answers 503 problem+json with Retry-After without running; ungated routes are untouched', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD }, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  let ran = 0
  app.post('/chat', { config: { keyguard: 'fireworks' } }, async () => { ran++; return { ok: true } })
  app.get('/plain', async () => ({ ok: true }))
  await app.ready()
  const hits = stub.hits
  const replies = await Promise.all(Array.from({ length: 1000 }, () => app.inject({ method: 'POST', url: '/chat?secret=x' })))
  t.ok(replies.every((reply) => reply.statusCode === 503), 'every request fast-fails')
  t.equal(ran, 0, 'the handler never ran')
  t.equal(stub.hits, hits, 'no upstream call while the key is known bad')
  const res = replies[0]
  t.match(res?.headers['content-type'], /^application\/problem\+json/)
  t.equal(res?.headers['retry-after'], '60', 'no recheck timer: a minute')
  t.equal(res?.headers['cache-control'], 'no-store')
  t.match(res?.json(), {
    type: 'https://github.com/fastify-keyguard/fastify-keyguard/blob/HEAD/docs/problems.md#key-failing',
    title: 'Upstream credentials unavailable',
    status: 503,
    instance: '/chat',
    code: 'FST_KEYGUARD_KEY_FAILING',
    key: 'fireworks',
    provider: 'fireworks'
  })
  t.match(res?.json().detail, /server-side problem/)
  t.notMatch(res?.body, /secret=x|LLLL|FIREWORKS_API_KEY/, 'no query string, key or variable')
  const plain = await app.inject('/plain')
  t.equal(plain.statusCode, 200)
  t.same(plain.json(), { ok: true })
})

test('the gate opens once the key heals, and Retry-After follows the next recheck', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, onInvalid: 'degrade', probe: { interval: 120_000 } })
  t.teardown(() => app.close())
  app.get('/chat', { config: { keyguard: ['fireworks'] } }, async () => ({ ok: true }))
  await app.ready()
  const closed = await app.inject('/chat')
  t.equal(closed.statusCode, 503)
  const seconds = Number(closed.headers['retry-after'])
  // The first failure backs off at most BACKOFF.base (1 s), not the 120 s interval.
  t.equal(seconds, 1, `Retry-After ${seconds}: the first backoff, not the interval`)
  stub.set('auth', { keys: [GOOD] })
  await app.keyguard.recheck('fireworks')
  t.equal((await app.inject('/chat')).statusCode, 200)
  t.equal((await app.inject({ method: 'HEAD', url: '/chat' })).statusCode, 200)
})

test('a route gated on several keys fails while any of them fails; HEAD is gated too', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD, OPENAI] })
  const env: Record<string, string> = { FIREWORKS_API_KEY: GOOD, OPENAI_API_KEY: 'sk-proj-' + 'N'.repeat(40) }
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }, { provider: 'openai', baseUrl: stub.url }], env, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  let ran = 0
  app.get('/both', { config: { keyguard: ['fireworks', 'openai'] } }, async () => { ran++; return { ok: true } })
  app.get('/fw', { config: { keyguard: 'fireworks' } }, async () => ({ ok: true }))
  await app.ready()
  const both = await app.inject('/both')
  t.equal(both.statusCode, 503)
  t.equal(both.json().key, 'openai')
  t.equal(both.json().provider, 'openai')
  t.equal((await app.inject({ method: 'HEAD', url: '/both' })).statusCode, 503)
  t.equal((await app.inject('/fw')).statusCode, 200)
  t.equal(ran, 0)
  env.OPENAI_API_KEY = OPENAI
  await app.keyguard.recheck()
  t.equal((await app.inject('/both')).statusCode, 200)
  t.equal(ran, 1)
})

test('routes gated on an absent optional key answer 503', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }, { provider: 'openai', required: false }], env: { FIREWORKS_API_KEY: GOOD } })
  t.teardown(() => app.close())
  app.get('/openai', { config: { keyguard: 'openai' } }, async () => ({ ok: true }))
  await app.ready()
  const res = await app.inject('/openai')
  t.equal(res.statusCode, 503)
  t.equal(res.json().key, 'openai')
  t.equal((await app.inject('/readyz')).statusCode, 200, 'readiness does not depend on an optional key')
})

test('a gate naming an unknown key, or not a name, is an error at startup', async (t) => {
  for (const gate of ['fireworkz', [], ['fireworks', 3], 42]) {
    const app = Fastify()
    await app.register(keyguard, { keys: ['fireworks'], env: { FIREWORKS_API_KEY: GOOD }, probe: false })
    t.throws(() => app.get('/x', { config: { keyguard: gate as string } }, async () => ({})), { code: 'FST_KEYGUARD_OPTIONS', message: /route GET \/x: config\.keyguard/ })
    await app.close()
  }
  const app = Fastify()
  await app.register(keyguard, { keys: ['fireworks'], env: { FIREWORKS_API_KEY: GOOD }, probe: false })
  // Inside a plugin the error surfaces from ready().
  app.register(async (child) => { child.get('/x', { config: { keyguard: 'openai' } }, async () => ({})) })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_KEYGUARD_OPTIONS', message: /names a key that is not guarded .*; guarded keys: fireworks$/ })
  await app.close()
})

test('route-level onRequest hooks still run, after the gate', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD } })
  t.teardown(() => app.close())
  const order: string[] = []
  app.get('/one', { config: { keyguard: 'fireworks' }, onRequest: async () => { order.push('one') } }, async () => ({}))
  app.get('/many', { config: { keyguard: 'fireworks' }, onRequest: [async () => { order.push('a') }, async () => { order.push('b') }] }, async () => ({}))
  await app.ready()
  t.equal((await app.inject('/one')).statusCode, 200)
  t.equal((await app.inject('/many')).statusCode, 200)
  t.same(order, ['one', 'a', 'b'])
})
