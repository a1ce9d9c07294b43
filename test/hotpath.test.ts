// Issue 17: a route without config.keyguard runs none of keyguard's request hooks after its first request
// (the gate is taken off that route's hook list), and the gate never fails open for it: whatever the
// registration shape, whenever config.keyguard is set at runtime, whatever Fastify's shape turns out to be.
import { Readable } from 'node:stream'
import { test } from 'tap'
import OpenAI from 'openai'
import type { Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import keyguard from '../index.js'
import type { FastifyKeyguardOptions } from '../index.js'
import { gateShedder, sendShedder } from '../lib/fastify/shed.js'
import type { RouteContext } from '../lib/fastify/route-config.js'
import { stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'
import { registrationShapes } from './helpers/shapes.js'
import type { Shape as RegistrationShape } from './helpers/shapes.js'

const GOOD = 'fw_' + 'S'.repeat(32)
const BAD = 'fw_' + 'T'.repeat(32)

type Hook = { name: string }
type Context = { config: Record<string, unknown>, onRequest: Hook[] | null, onSend: Hook[] | null }

/** The route context Fastify keeps on a request (what the shedder rewrites), found as keyguard finds it. */
function contextOf (request: FastifyRequest): Context {
  const symbol = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') as symbol
  return (request as unknown as Record<symbol, Context>)[symbol] as Context
}
const gates = (list: Hook[] | null): number => (list ?? []).filter((hook) => hook.name === 'bound keyguardGate').length

interface Seen { ran: Record<string, number>, contexts: Record<string, Context> }

/** The routes a user writes: gated and ungated, GET (with its HEAD) and POST. Each records its context. */
function routes (seen: Seen): FastifyPluginAsync {
  const handler = (name: string) => async (request: FastifyRequest) => {
    seen.ran[name] = (seen.ran[name] ?? 0) + 1
    seen.contexts[`${request.method} ${name}`] = contextOf(request)
    return { name }
  }
  return async (app) => {
    app.get('/free', handler('/free'))
    app.post('/chat', { config: { keyguard: 'fireworks' } }, handler('/chat'))
    app.get('/gated', { config: { keyguard: ['fireworks'] } }, handler('/gated'))
    app.get('/own-hook', { onRequest: async () => {}, config: { keyguardHealth: false } }, handler('/own-hook'))
  }
}

type Shape = RegistrationShape<Seen>

/** Every way a user's code registers keyguard and declares routes (test/helpers/shapes.ts), and a prefixed child. */
const SHAPES: Record<string, Shape> = {
  ...registrationShapes(routes),
  'prefixed child with its own child and 404 handler': async (app, options, seen) => {
    app.register(keyguard, options)
    app.register(async (child) => {
      child.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ missing: true }))
      child.register(routes(seen))
    }, { prefix: '/p' })
  }
}

async function build (t: Test, shape: Shape, keys: string[]) {
  const stub = await stubFor(t, { keys })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const seen: Seen = { ran: {}, contexts: {} }
  await shape(app, {
    keys: [{ provider: 'fireworks', baseUrl: stub.url }],
    env: { FIREWORKS_API_KEY: GOOD },
    onInvalid: 'degrade',
    probe: { interval: 0, retries: 0 }
  }, seen)
  await app.ready()
  return { app, seen }
}

test('every registration shape: an ungated route sheds the gate, and every gated request stays refused', async (t) => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    await t.test(name, async (t) => {
      const { app, seen } = await build(t, shape, [])
      const at = name.startsWith('prefixed') ? '/p' : ''
      t.equal((await app.inject('/readyz')).statusCode, 503, 'the key fails')
      for (let i = 0; i < 3; i++) {
        t.equal((await app.inject(`${at}/free`)).statusCode, 200, `ungated GET, request ${i + 1}`)
        const head = await app.inject({ method: 'HEAD', url: `${at}/free` })
        t.equal(head.statusCode, 200, `ungated HEAD, request ${i + 1}`)
        t.equal((await app.inject(`${at}/own-hook`)).statusCode, 200, `ungated with its own hook, request ${i + 1}`)
        for (const [method, url] of [['POST', '/chat'], ['GET', '/gated'], ['HEAD', '/gated']] as const) {
          const res = await app.inject({ method, url: `${at}${url}` })
          t.equal(res.statusCode, 503, `${method} ${url}, request ${i + 1}: refused`)
          if (method !== 'HEAD') t.equal(res.json().code, 'FST_KEYGUARD_KEY_FAILING')
        }
        t.equal((await app.inject(`${at}/nowhere`)).statusCode, 404, `a 404, request ${i + 1}`)
      }
      t.equal(seen.ran['/chat'], undefined, 'no gated handler ran')
      t.equal(seen.ran['/gated'], undefined)
      const free = seen.contexts['GET /free'] as Context
      t.equal(free.onRequest, null, 'the ungated route runs no onRequest hook at all')
      t.equal(gates(seen.contexts['HEAD /free']?.onRequest ?? null), 0, 'nor its HEAD route')
      const own = seen.contexts['GET /own-hook'] as Context
      t.equal(own.onRequest?.length, 1, 'a route of its own hook keeps it')
      t.equal(gates(own.onRequest), 0, 'without the gate')
    })
  }
})

test('a gated route keeps its gate: its context still lists it after many requests', async (t) => {
  const { app, seen } = await build(t, SHAPES.awaited as Shape, [GOOD])
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/gated')).statusCode, 200)
  t.equal(gates(seen.contexts['GET /gated']?.onRequest ?? null), 1)
})

/** An app whose one key fails (a stand-in that accepts none), degraded: every gated route answers 503. */
async function degraded (t: Test): Promise<FastifyInstance> {
  const stub = await stubFor(t, { keys: [] })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(keyguard, {
    keys: [{ provider: 'fireworks', baseUrl: stub.url }],
    env: { FIREWORKS_API_KEY: BAD },
    onInvalid: 'degrade',
    probe: { interval: 0, retries: 0 }
  })
  return app
}

test('config.keyguard set at runtime on a shed route puts the gate back before the next request', async (t) => {
  const app = await degraded(t)
  const order: string[] = []
  let config: Record<string, unknown> = {}
  let context: Context | undefined
  app.addHook('onRequest', async () => { order.push('app hook after keyguard') })
  app.get('/r', { onRequest: async () => { order.push('route hook') } }, async (request) => {
    config = request.routeOptions.config as unknown as Record<string, unknown>
    context = contextOf(request)
    return 'ran'
  })
  await app.ready()
  t.equal((await app.inject('/r')).body, 'ran', 'ungated: open')
  t.same(order, ['app hook after keyguard', 'route hook'], 'the request that sheds the gate skips no later hook')
  t.equal(context?.onRequest?.length, 2, 'the gate is shed: the app\'s and the route\'s hooks stay')
  t.equal((await app.inject('/r')).body, 'ran')

  config.keyguard = 'fireworks'
  t.equal(gates(context?.onRequest ?? null), 1, 'the gate is back in the list')
  t.equal(context?.onRequest?.[0]?.name, 'bound keyguardGate', 'at its place: first, before the app\'s later hooks')
  order.length = 0
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/r')).statusCode, 503, `gated at runtime, request ${i + 1}`)
  t.same(order, [], 'no hook after the gate ran')

  config.keyguard = undefined
  t.equal((await app.inject('/r')).body, 'ran', 'ungated again: open')
  t.equal(gates(context?.onRequest ?? null), 0, 'and shed again')
  Object.assign(config, { keyguard: ['fireworks'] })
  t.equal((await app.inject('/r')).statusCode, 503, 'Object.assign goes through the accessor too')
  t.same(config.keyguard, ['fireworks'], 'the value reads back')

  config.keyguard = undefined
  await app.inject('/r')
  t.throws(() => { delete config.keyguard }, TypeError, 'the accessor cannot be deleted (it would leave a gap)')
  t.throws(() => Object.defineProperty(config, 'keyguard', { value: 'fireworks' }), TypeError,
    'nor redefined around the setter')
  t.notOk(Object.keys(config).includes('keyguard'), 'a config that had no keyguard does not list one')
  t.equal((await app.inject('/r')).body, 'ran')
  const mistaken = 'fw_' + 'U'.repeat(40)
  config.keyguard = mistaken
  const refused = await app.inject('/r')
  t.equal(refused.statusCode, 503, 'a name that is not guarded: closed, as before')
  t.notMatch(refused.body, /UUUU/)
})

test('a not-found handler: gated by its config, or shed and gated again when its config is given a key', async (t) => {
  const app = await degraded(t)
  const open: Record<string, unknown> = {}
  let ran = 0
  type Opts = Parameters<typeof app.setNotFoundHandler>[0]
  app.register(async (child) => {
    const config = { keyguard: 'fireworks' }
    child.setNotFoundHandler({ config } as unknown as Opts, async () => { ran++; return 'ran' })
  }, { prefix: '/gated' })
  app.register(async (child) => {
    child.setNotFoundHandler({ config: open } as unknown as Opts, async (_req, reply) => reply.code(404).send('free'))
  }, { prefix: '/free' })
  await app.ready()
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject('/gated/nowhere')).statusCode, 503, `a gated not-found handler, request ${i + 1}`)
    t.equal((await app.inject('/free/nowhere')).body, 'free', `an ungated one, request ${i + 1}`)
  }
  t.equal(ran, 0)
  open.keyguard = 'fireworks'
  t.equal((await app.inject('/free/nowhere')).statusCode, 503, 'its config given a key: gated from the next request')
})

test('a route whose config cannot be watched keeps its gate (slow, never open)', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  let context: Context | undefined
  // An app hook ahead of keyguard's freezes the config: the accessor cannot be added.
  app.addHook('onRequest', async (request) => { Object.freeze(request.routeOptions.config) })
  await app.register(keyguard, { keys: [{ provider: 'fireworks', value: GOOD }], env: {}, probe: false })
  app.get('/frozen', async (request) => { context = contextOf(request); return 'ran' })
  await app.ready()
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/frozen')).body, 'ran')
  t.equal(gates(context?.onRequest ?? null), 1, 'the gate stays in the list')
})

test('the shedder keeps the gate whenever Fastify\'s shape is not the expected one', async (t) => {
  const hook = function keyguardGate () {}
  const shed = gateShedder(hook)
  const bound = hook.bind(null)
  const context = (config: object, onRequest: unknown): RouteContext => ({ config, onRequest }) as RouteContext

  t.equal(shed(undefined, {}), 'kept: no route context', 'no context symbol (another Fastify)')
  t.equal(shed(null as unknown as RouteContext, {}), 'kept: no route context')
  const config = {}
  t.equal(shed(context({}, [bound]), config), 'kept: the context is not as expected', 'its config is another object')
  t.equal(shed(context(config, undefined), config), 'kept: the context is not as expected', 'no hook list')
  t.equal(shed(context(config, [() => {}]), config), 'kept: the context is not as expected', 'the gate not in it')
  const twice = context(config, [bound, hook.bind(null)])
  t.equal(shed(twice, config), 'kept: the context is not as expected', 'the gate twice')
  t.equal(shed(twice, config), 'kept: the context is not as expected', 'remembered')
  t.equal((twice.onRequest as unknown[]).length, 2, 'untouched')

  for (const [why, odd] of Object.entries({
    'a Proxy': new Proxy({}, {}),
    'a prototype other than Object.prototype': Object.create({ keyguard: undefined }) as object,
    'a non-extensible object': Object.preventExtensions({}),
    'a non-configurable keyguard': Object.defineProperty({}, 'keyguard', { value: undefined, configurable: false }),
    'an accessor of someone else': Object.defineProperty({}, 'keyguard', { get: () => undefined, configurable: true })
  })) {
    const list = [bound]
    const ctx = context(odd, list)
    t.equal(shed(ctx, odd), 'kept: the config cannot be watched', why)
    t.equal(ctx.onRequest, list, `${why}: the list is untouched`)
  }

  const bare = Object.create(null) as Record<string, unknown>
  const alone = context(bare, [hook])
  t.equal(shed(alone, bare), 'shed', 'the unbound hook itself, a config without a prototype')
  t.equal(alone.onRequest, null)
  bare.keyguard = 'x'
  t.same(alone.onRequest, [hook], 'put back')
})

const CHAT = '/inference/v1/chat/completions'
const AS_GOOD = { method: 'POST', headers: { authorization: `Bearer ${GOOD}` }, body: '{}' }
const sends = (list: Hook[] | null): number => (list ?? []).filter((hook) => hook.name === 'bound onSend').length

/**
 * An app with keyguard on the stand-in, and an onSend hook of the app's, ahead of keyguard's, that calls the
 * upstream itself when asked (`?send`): a mark during the onSend phase. It passes the upstream's answer through.
 */
async function upstreamApp (t: Test, stub: Stub, order: string[]): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  app.addHook('onSend', async (request, reply, payload) => {
    if ((request.query as { send?: string }).send === undefined) return payload
    order.push('app onSend calls the upstream')
    const res = await app.keyguard.fetch(`${stub.url}${CHAT}`, AS_GOOD)
    reply.code(res.status)
    return res.text()
  })
  await app.register(keyguard, {
    keys: [{ provider: 'fireworks', baseUrl: `${stub.url}/inference` }],
    env: { FIREWORKS_API_KEY: GOOD },
    probe: { interval: 0, retries: 0 }
  })
  return app
}

test('the conversion\'s onSend is shed with the gate; every conversion path converts on a later request', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const order: string[] = []
  const app = await upstreamApp(t, stub, order)
  const contexts: Record<string, Context> = {}
  const call = () => app.keyguard.fetch(`${stub.url}${CHAT}`, {
    method: 'POST', headers: { authorization: `Bearer ${GOOD}`, 'content-type': 'application/json' }, body: '{}'
  })
  const calls = (request: FastifyRequest): boolean => {
    contexts[`${request.method} ${request.routeOptions.url}`] = contextOf(request)
    return (request.query as { call?: string }).call !== undefined
  }
  app.get('/passed', async (request, reply) => {
    if (!calls(request)) return { ok: true }
    const res = await call()
    return reply.code(res.status).header('content-type', 'application/json').send(await res.text())
  })
  app.get('/response', async (request) => calls(request) ? call() : { ok: true })
  app.get('/stream', async (request, reply) => {
    if (!calls(request)) return { ok: true }
    const res = await call()
    return reply.code(res.status).send(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream))
  })
  app.get('/sdk', async (request) => {
    if (!calls(request)) return { ok: true }
    const client = new OpenAI({ apiKey: GOOD, baseURL: `${stub.url}/inference/v1`, maxRetries: 0 })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  app.get('/in-onsend', async (request) => { calls(request); return { ok: true } })
  // A gated route keeps its gate, and sheds the conversion's onSend too.
  app.get('/gated-call', { config: { keyguard: 'fireworks' } }, async (request, reply) => {
    if (!calls(request)) return { ok: true }
    const res = await call()
    return reply.code(res.status).header('content-type', 'application/json').send(await res.text())
  })
  app.register(async (child) => {
    // The application's own error handler: a 401 passes to the conversion, its own 503 mapping stays.
    child.setErrorHandler((_error: Error, request, reply) => {
      return (request.query as { mine?: string }).mine === undefined
        ? reply.code(401).send({ mapped: 401 })
        : reply.code(503).send({ mapped: 503 })
    })
    child.get('/mapped', async (request) => {
      if (!calls(request)) return { ok: true }
      const client = new OpenAI({ apiKey: GOOD, baseURL: `${stub.url}/inference/v1`, maxRetries: 0 })
      return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    })
  })
  app.setNotFoundHandler(async (request, reply) => {
    if (!calls(request)) return reply.code(404).send({ missing: true })
    const res = await call()
    return reply.code(res.status).send(await res.text())
  })
  await app.ready()
  t.ok(app.keyguard.fetch, 'the watching client is in use (every request enters its context)')

  const urls = ['/passed', '/response', '/stream', '/sdk', '/mapped', '/in-onsend', '/gated-call', '/nowhere']
  for (const url of urls) {
    const status = url === '/nowhere' ? 404 : 200
    for (let i = 0; i < 2; i++) t.equal((await app.inject(url)).statusCode, status, `${url}: unmarked`)
  }
  for (const [name, context] of Object.entries(contexts)) t.equal(sends(context.onSend), 0, `${name}: onSend shed`)
  t.equal(gates(contexts['GET /gated-call']?.onRequest ?? null), 1, 'GET /gated-call: the gate stays')
  t.equal((await app.inject({ method: 'HEAD', url: '/passed' })).statusCode, 200)
  t.equal(sends(contexts['HEAD /passed']?.onSend ?? null), 0, 'HEAD /passed: onSend shed')

  stub.set('auth', { keys: [] })
  const converted = async (url: string, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 502, `${method} ${url}: converted`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${method} ${url}: problem+json`)
    if (method === 'GET') {
      t.match(res.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'fireworks' })
      t.notMatch(res.body, /provided is invalid|SSSS/, `${url}: no upstream text, no key`)
    }
    return res
  }
  // First: the 401 makes keyguard recheck the key, which then fails, and the gate refuses the route.
  await converted('/gated-call?call=1')
  for (let i = 0; i < 2; i++) {
    for (const url of ['/passed', '/response', '/stream', '/sdk', '/mapped', '/nowhere']) {
      await converted(`${url}?call=${i}`)
    }
    await converted('/in-onsend?send=1')
    await converted('/passed?call=1', 'HEAD')
  }
  t.same(order, ['app onSend calls the upstream', 'app onSend calls the upstream'])
  const mine = await app.inject('/mapped?call=1&mine=1')
  t.equal(mine.statusCode, 503, 'the app\'s own mapping to another status stays')
  t.same(mine.json(), { mapped: 503 })
  for (const name of ['GET /passed', 'GET /sdk', 'GET /in-onsend', 'HEAD /passed']) {
    t.equal(sends(contexts[name]?.onSend ?? null), 1, `${name}: onSend back once, for good`)
  }
  t.equal(contexts['GET /in-onsend']?.onSend?.[1]?.name, 'bound onSend', 'at its place: after the app\'s earlier hook')
  t.equal(contexts['GET /in-onsend']?.onSend?.length, 2)
  t.equal(stub.requests.filter((r) => r.path === CHAT).length, 18, 'every marked request called the upstream once')
})

/** An app whose key passes, with `problem` as given, its upstream calls sent to the stand-in's chat route. */
async function watching (t: Test, problem: NonNullable<FastifyKeyguardOptions['problem']>): Promise<{ app: FastifyInstance, stub: Stub }> {
  const stub = await stubFor(t, { keys: [GOOD] })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(keyguard, {
    keys: [{ provider: 'fireworks', baseUrl: `${stub.url}/inference` }],
    env: { FIREWORKS_API_KEY: GOOD },
    probe: { interval: 0, retries: 0 },
    problem
  })
  return { app, stub }
}

test('an unavailable upstream (problem.unavailable) is converted on a route shed on an earlier request', async (t) => {
  const { app, stub } = await watching(t, { unavailable: true })
  let context: Context | undefined
  app.get('/u', async (request, reply) => {
    context = contextOf(request)
    if ((request.query as { call?: string }).call === undefined) return 'ok'
    const res = await app.keyguard.fetch(`${stub.url}${CHAT}`, AS_GOOD)
    return reply.code(res.status).send(await res.text())
  })
  await app.ready()
  t.equal((await app.inject('/u')).body, 'ok')
  t.equal(sends(context?.onSend ?? null), 0, 'shed')
  stub.set('503', { retryAfter: '12', keys: [GOOD] })
  const res = await app.inject('/u?call=1')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAVAILABLE', key: 'fireworks' })
  t.equal(res.headers['retry-after'], '12')
  t.equal(sends(context?.onSend ?? null), 1, 'back')
  // An unavailable answer to a call made outside any request marks nothing, and puts nothing back.
  const outside = await app.keyguard.fetch(`${stub.url}${CHAT}`, AS_GOOD)
  t.equal(outside.status, 503)
  await outside.text()
})

test('with problem: false nothing is shed but the gate, and no onSend is put back', async (t) => {
  const { app, stub } = await watching(t, false)
  let context: Context | undefined
  app.get('/p', async (request, reply) => {
    context = contextOf(request)
    const res = await app.keyguard.fetch(`${stub.url}${CHAT}`, AS_GOOD)
    return reply.code(res.status).send(await res.text())
  })
  await app.ready()
  t.equal((await app.inject('/p')).statusCode, 200)
  stub.set('auth', { keys: [] })
  t.equal((await app.inject('/p')).statusCode, 401, 'passed through, as problem: false asks')
  t.equal(context?.onRequest, null)
  t.equal(context?.onSend, null)
})

test('the onSend shedder keeps the hook where the list is not as expected; marks on any context', async (t) => {
  const hook = function onSend () {}
  const sheds = sendShedder(hook)
  const odd = { onSend: [() => {}] } as unknown as RouteContext
  sheds.shed(odd)
  t.equal((odd.onSend as unknown[]).length, 1, 'no entry of the hook: untouched')
  const list = [hook.bind(null)]
  const context = { onSend: list } as unknown as RouteContext
  sheds.shed(context)
  t.equal(context.onSend, null)
  sheds.shed(context)
  sheds.shed(undefined)
  sheds.shed(null as unknown as RouteContext)
  sheds.marked(undefined)
  sheds.marked(odd)
  sheds.marked(context)
  t.same(context.onSend, list, 'back')
  sheds.shed(context)
  t.same(context.onSend, list, 'a route is shed once: once marked, the hook stays')
})

test('the context hook: every handler kind keeps its request, and a later request of each is converted', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const app = await upstreamApp(t, stub, [])
  type Handled = Context & { preHandler: Hook[] | null, handler: Hook }
  const contexts: Record<string, Handled> = {}
  const seen = (request: FastifyRequest): void => { contexts[String(request.routeOptions.url)] = contextOf(request) as Handled }
  const holds = (context: Handled | undefined): number =>
    (context?.preHandler ?? []).filter((hook) => hook.name === 'bound keyguardContext').length
  // Not async: a sync handler's value is sent by Fastify after the handler returns.
  app.get('/value', function (request) { seen(request); return { ok: true } })
  app.get('/send', function (request, reply) { seen(request); reply.send({ ok: true }) })
  app.get('/this', function (this: FastifyInstance, request) { seen(request); return { root: this === app } })
  app.get('/throws', function (request) { seen(request); throw Object.assign(new Error('the handler failed'), { statusCode: 418 }) })
  app.get('/null', function (request) { seen(request); return null })
  // A route preHandler runs after keyguard's global one, and may call the upstream itself.
  app.get('/after', {
    preHandler: async (request, reply) => {
      if ((request.query as { call?: string }).call === undefined) return
      // It answers with the upstream's answer itself.
      const res = await app.keyguard.fetch(`${stub.url}${CHAT}`, AS_GOOD)
      return reply.code(res.status).header('content-type', 'application/json').send(await res.text())
    }
  }, async (request) => { seen(request); return { ok: true } })
  await app.ready()

  for (let i = 0; i < 3; i++) {
    t.same((await app.inject('/value')).json(), { ok: true })
    t.same((await app.inject('/send')).json(), { ok: true })
    t.same((await app.inject('/this')).json(), { root: true }, 'the handler\'s this is the Fastify instance')
    const thrown = await app.inject('/throws')
    t.same([thrown.statusCode, thrown.json().message], [418, 'the handler failed'], 'a throw is the error it was')
    const nothing = await app.inject('/null')
    t.same([nothing.statusCode, nothing.body], [200, 'null'], 'null is sent as null')
    t.equal((await app.inject('/after')).statusCode, 200)
  }
  for (const url of ['/value', '/send', '/this', '/throws', '/null', '/after']) {
    t.equal(holds(contexts[url]), 1, `${url}: the context hook stays`)
  }

  stub.set('auth', { keys: [] })
  for (const url of ['/value?send=1', '/send?send=1', '/after?call=1']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 502, `${url}: converted on a later request`)
    t.match(res.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'fireworks' })
  }
  t.same((await app.inject('/this')).json(), { root: true }, 'the handler\'s this, once the client is in use')
  t.equal((await app.inject('/null?send=1')).statusCode, 502, '/null?send=1: converted')
})
