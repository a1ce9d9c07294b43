// The gate reads a route's config through Fastify's context symbol instead of request.routeOptions (which
// builds an object per read); these pin that it is the same config for every kind of route, and that the
// per-route parse follows a config changed at runtime.
import { test } from 'tap'
import Fastify from 'fastify'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import keyguard from '../index.js'
import { routeConfigReader } from '../lib/fastify/route-config.js'

const KEY = 'fw_' + 'R'.repeat(32)
const options = { keys: [{ provider: 'fireworks' as const, value: KEY }], env: {}, probe: false as const }

test('the config read through the context symbol is routeOptions.config, for every kind of route', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const read = routeConfigReader()
  const seen: Array<[string, boolean, unknown]> = []
  const record = (request: FastifyRequest): void => {
    seen.push([request.url, read(request) === request.routeOptions.config, read(request).keyguard])
  }
  app.addHook('onRequest', (request, _reply, done) => { record(request); done() })
  app.get('/before', { config: { keyguard: 'a' } }, async () => 'ok')
  await app.register(async (child) => {
    child.get('/child', { config: { keyguard: ['b'] } }, async () => 'ok')
    await child.register(async (grandchild) => { grandchild.get('/grandchild', async () => 'ok') }, { prefix: '/g' })
  }, { prefix: '/c' })
  await app.register(fp(async (same) => { same.get('/fp', { config: { keyguard: 'c' } }, async () => 'ok') }))
  app.get('/after', async () => 'ok')
  await app.ready()
  for (const url of ['/before', '/c/child', '/c/g/grandchild', '/fp', '/after', '/missing']) await app.inject(url)
  t.same(seen, [
    ['/before', true, 'a'],
    ['/c/child', true, ['b']],
    ['/c/g/grandchild', true, undefined],
    ['/fp', true, 'c'],
    ['/after', true, undefined],
    ['/missing', true, undefined]
  ])
})

test('without Fastify\'s context symbol (another Fastify), the reader falls back to routeOptions.config', async (t) => {
  const read = routeConfigReader()
  const config = { keyguard: 'x' }
  let reads = 0
  const request = { get routeOptions () { reads++; return { config } } } as unknown as FastifyRequest
  t.equal(read(request), config)
  t.equal(read(request), config, 'the symbol is looked for once; it stays absent')
  t.equal(reads, 2, 'each read goes through routeOptions')
  const bare = { routeOptions: {} } as unknown as FastifyRequest
  t.same(read(bare), {}, 'a route without config reads as ungated')
  const noConfig = routeConfigReader()
  const kContext = Symbol('fastify.context')
  const odd = { [kContext]: {}, routeOptions: { config } } as unknown as FastifyRequest
  t.equal(noConfig(odd), config, 'a context without config takes the slow path')
})

test('a config.keyguard changed after the first request is parsed again (the gate never serves a stale parse)',
  async (t) => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(keyguard, options)
    let config: { keyguard?: unknown } = {}
    app.get('/r', { config: { keyguard: 'fireworks' } }, async (request) => {
      config = request.routeOptions.config as { keyguard?: unknown }
      return 'ran'
    })
    await app.ready()
    t.equal((await app.inject('/r')).body, 'ran', 'gated on a passing key: open')
    config.keyguard = 'not-a-guarded-key'
    const refused = await app.inject('/r')
    t.equal(refused.statusCode, 503, 'the changed gate names no guarded key: closed')
    config.keyguard = undefined
    t.equal((await app.inject('/r')).body, 'ran', 'no gate any more: open')
  })

test('routes of a child context registered before keyguard, and of an un-awaited register, are gated', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  app.register(async (child) => { child.get('/early', { config: { keyguard: 'nope' } }, async () => 'ran') })
  app.register(keyguard, { ...options, keys: [{ provider: 'fireworks', value: KEY, required: false }], env: {} })
  app.get('/late', { config: { keyguard: 'fireworks' } }, async () => 'ran')
  app.get('/free', async () => 'ran')
  await app.ready()
  t.equal((await app.inject('/early')).statusCode, 503, 'an unknown name in a context keyguard never saw: closed')
  t.equal((await app.inject('/late')).body, 'ran')
  t.equal((await app.inject('/free')).body, 'ran')
})
