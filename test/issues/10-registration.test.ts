// Issue 10: the route gate and the upstream watch cover every route, however keyguard was registered.
import { test } from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyPluginAsync } from 'fastify'
import keyguard from '../../index.js'
import type { FastifyKeyguardOptions } from '../../index.js'
import { logs } from '../helpers/app.js'
import { registrationShapes } from '../helpers/shapes.js'
import type { Shape } from '../helpers/shapes.js'
import { stubFor } from '../helpers/stub.js'
import type { Stub } from '../helpers/stub.js'
import { kHit } from '../../lib/upstream/watch.js'
import { Client } from 'undici'
import type { AddressInfo } from 'node:net'

const GOOD = 'fw_' + 'G'.repeat(32)
const CHAT = '/inference/v1/chat/completions'

interface Counters { ran: number, base: string }

/** The routes a user writes: a gated route, and a proxy route that passes the upstream's answer through. */
function routes (counters: Counters): FastifyPluginAsync {
  const base = counters.base
  return async (app) => {
    app.post('/chat', { config: { keyguard: 'fireworks' } }, async () => {
      counters.ran++
      return { ok: true }
    })
    app.post('/proxy', async (_request, reply) => {
      const res = await app.keyguard.fetch(`${base}${CHAT}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.keyguard.key('fireworks')}`, 'content-type': 'application/json' },
        body: '{"model":"m","messages":[]}'
      })
      return reply.code(res.status).header('content-type', 'application/json').send(await res.text())
    })
  }
}

type Order = Shape<Counters>

/** The orders in which a user's code registers keyguard and declares routes. */
const ORDERS: Record<string, Order> = {
  ...registrationShapes(routes),
  'routes in a prefixed child with its own child': async (app, options, counters) => {
    app.register(keyguard, options)
    app.register(async (child) => { child.register(routes(counters)) }, { prefix: '' })
  }
}

async function build (t: Test, stub: Stub, order: Order, counters: Counters, keys: string[]) {
  stub.set('auth', { keys })
  const { logs: captured, stream } = logs()
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  const options: FastifyKeyguardOptions = {
    keys: [{ provider: 'fireworks', baseUrl: `${stub.url}/inference` }],
    env: { FIREWORKS_API_KEY: GOOD },
    onInvalid: 'degrade',
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  }
  await order(app, options, counters)
  await app.ready()
  return { app, logs: captured }
}

test('every registration order: the gate never fails open, and a passed-through upstream 401 becomes the problem', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  for (const [name, order] of Object.entries(ORDERS)) {
    await t.test(name, async (t) => {
      // A key that fails at boot: the gated handler must never run.
      const failing = { ran: 0, base: stub.url }
      const bad = await build(t, stub, order, failing, [])
      t.equal((await bad.app.inject('/readyz')).statusCode, 503, 'readiness fails')
      const gated = await bad.app.inject({ method: 'POST', url: '/chat' })
      t.equal(gated.statusCode, 503, 'the gated route is refused')
      t.equal(gated.json().code, 'FST_KEYGUARD_KEY_FAILING')
      t.equal(failing.ran, 0, 'the handler never ran')

      // A key that works at boot and is revoked at runtime: the proxy's 401 becomes the 502 problem.
      const working = { ran: 0, base: stub.url }
      const good = await build(t, stub, order, working, [GOOD])
      t.equal((await good.app.inject({ method: 'POST', url: '/chat' })).statusCode, 200, 'the gate opens for a good key')
      t.equal(working.ran, 1)
      stub.set('auth', { keys: [] })
      const proxied = await good.app.inject({ method: 'POST', url: '/proxy' })
      t.equal(proxied.statusCode, 502, 'the upstream 401 is converted')
      t.match(proxied.headers['content-type'], /^application\/problem\+json/)
      t.match(proxied.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'fireworks' })
      t.notMatch(proxied.body, /Incorrect API key|GGGG/, 'no upstream text, no key')
      t.notMatch(good.logs.text(), /GGGGGGGG/, 'no key in the logs')
    })
  }
})

test('a gated route is enforced from the very first request after boot', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const counters = { ran: 0, base: stub.url }
  const { app } = await build(t, stub, ORDERS['not awaited'] as Order, counters, [GOOD])
  stub.set('auth', { keys: [] })
  // The watching client is first touched inside this request's handler.
  const first = await app.inject({ method: 'POST', url: '/proxy' })
  t.equal(first.statusCode, 502)
  t.equal(first.json().code, 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED')
})

test('a config.keyguard keyguard did not see declared is enforced, and fails closed when it names no guarded key', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { logs: captured, stream } = logs()
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  let ran = 0
  const pasted = 'fw_' + 'P'.repeat(40)
  // Declared before keyguard has loaded: no onRoute check can see them.
  app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD } })
  app.get('/typo', { config: { keyguard: 'fireworkz' } }, async () => { ran++; return 'ran' })
  app.get('/pasted', { config: { keyguard: pasted } }, async () => { ran++; return 'ran' })
  app.get('/empty', { config: { keyguard: [] as unknown as string } }, async () => { ran++; return 'ran' })
  await app.ready()
  for (const url of ['/typo', '/pasted', '/empty', '/typo']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 503, `${url} refused`)
    t.equal(res.json().code, 'FST_KEYGUARD_KEY_FAILING')
  }
  t.equal(ran, 0, 'no handler ran')
  const errors = captured.records().filter((line) => line.level === 50)
  t.equal(errors.length, 3, 'each route logged once')
  t.match(String(errors[0]?.msg), /config\.keyguard names a key that is not guarded/)
  t.notMatch(captured.text(), /PPPPPPPP|fireworkz/, 'the unknown name is never repeated')
})

test('a config.keyguard naming no guarded key, declared after keyguard loaded, fails ready() without echoing the name', async (t) => {
  const pasted = 'fw_' + 'Q'.repeat(40)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: ['fireworks'], env: { FIREWORKS_API_KEY: GOOD }, probe: false })
  app.register(async (child) => { child.get('/x', { config: { keyguard: pasted } }, async () => ({})) })
  const err = await app.ready().then(() => undefined, (error: Error) => error)
  t.match(err, { code: 'FST_KEYGUARD_OPTIONS', message: /route GET \/x: config\.keyguard names a key that is not guarded/ })
  t.notMatch(String(err?.message), /QQQQQQQQ/)
})

test('the request entered by the handler that first creates the watching client does not leak into the next request on its connection', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { interval: 0 } })
  let first: object | undefined
  app.get('/first', async (request) => {
    first = request
    // The first use of the watching client, inside a handler.
    const res = await app.keyguard.fetch(`${stub.url}/v1/models`, { headers: { authorization: `Bearer ${GOOD}` } })
    t.equal(res.status, 200)
    return res.status
  })
  app.get('/second', {
    // An upstream call outside any handler's context: it must not be tied to /first.
    onRequest: async () => { await (await app.keyguard.fetch(`${stub.url}${CHAT}`, { method: 'POST', body: '{}' })).text() }
  }, async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new Client(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, { pipelining: 1 })
  t.teardown(() => client.close())
  t.equal((await client.request({ method: 'GET', path: '/first' })).statusCode, 200)
  stub.set('auth', { keys: [] })
  const second = await client.request({ method: 'GET', path: '/second' })
  await second.body.text()
  t.equal(second.statusCode, 200)
  t.equal((first as Record<symbol, unknown>)[kHit], undefined, 'the 401 of the next request on the connection was not tied to /first')
})
