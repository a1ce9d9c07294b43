import { test } from 'tap'
import Fastify from 'fastify'
import keyguard from '../index.js'
import { request } from 'node:http'
import { appWith, booted, canary, leaks, until } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'

const GOOD = 'fw_' + 'H'.repeat(32)
const BAD = 'fw_' + 'J'.repeat(32)

test('faults #49 #57: /livez is 200 whatever the key; /readyz follows it in health+json', async (t) => {
  const stub = await stubFor(t, { mode: '401json' })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD }, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  const live = await app.inject('/livez')
  t.equal(live.statusCode, 200)
  t.same(live.json(), { status: 'pass' })
  t.match(live.headers['content-type'], /^application\/health\+json/)
  t.equal(live.headers['cache-control'], 'no-store')
  const ready = await app.inject('/readyz?verbose')
  t.equal(ready.statusCode, 503)
  t.match(ready.headers['content-type'], /^application\/health\+json/)
  t.equal(ready.headers['cache-control'], 'no-store')
  const body = ready.json()
  t.match(body, { status: 'fail', checks: { 'fireworks:apiKey': [{ componentId: 'fireworks', componentType: 'system', status: 'fail', output: 'rejected', observedUnit: 'ms' }] } })
  t.ok(Date.parse(body.checks['fireworks:apiKey'][0].time) > 0, 'time is ISO 8601')
  t.notMatch(ready.body, /Incorrect|127\.0\.0\.1|FIREWORKS_API_KEY|fw_|\s{4}at /, 'no upstream text, address, variable, fingerprint or stack')
  t.same(leaks(ready.body + live.body, BAD), [])
})

test('a passing key: /readyz 200 without output; a warning stays 200', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { interval: 0 } })
  t.teardown(() => app.close())
  const ready = await app.inject('/readyz?verbose')
  t.equal(ready.statusCode, 200)
  const entry = ready.json().checks['fireworks:apiKey'][0]
  t.equal(entry.status, 'pass')
  t.notOk('output' in entry, 'output is omitted for pass')
  stub.set('429')
  await app.keyguard.recheck()
  const warn = await app.inject('/readyz?verbose')
  t.equal(warn.statusCode, 200)
  t.match(warn.json(), { status: 'warn', checks: { 'fireworks:apiKey': [{ status: 'warn', output: 'limited' }] } })
})

test('faults #58: HEAD answers the same status without a body; POST is 404', async (t) => {
  const stub = await stubFor(t)
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD }, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  const ready = await app.inject({ method: 'HEAD', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.body, '')
  const live = await app.inject({ method: 'HEAD', url: '/livez' })
  t.equal(live.statusCode, 200)
  t.equal(live.body, '')
  t.equal((await app.inject({ method: 'POST', url: '/readyz' })).statusCode, 404)
})

test('details: false leaves only status; paths are configurable and can be disabled', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, health: { details: false, ready: '/health/ready', live: false } })
  t.teardown(() => app.close())
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'pass' })
  t.equal((await app.inject('/livez')).statusCode, 404)
  t.equal((await app.inject('/readyz')).statusCode, 404)

  const none = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, health: false })
  t.teardown(() => none.app.close())
  t.equal((await none.app.inject('/livez')).statusCode, 404)
  t.equal((await none.app.inject('/readyz')).statusCode, 404)

  const liveOnly = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, health: { ready: false } })
  t.teardown(() => liveOnly.app.close())
  t.equal((await liveOnly.app.inject('/livez')).statusCode, 200)
  t.equal((await liveOnly.app.inject('/readyz')).statusCode, 404)
})

test('faults #50 #93: 10 000 readiness and liveness hits cause zero upstream requests', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD } }, { logger: false })
  const before = stub.hits
  const statuses = new Set<number>()
  for (let batch = 0; batch < 100; batch++) {
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => app.inject(i % 5 === 0 ? '/livez' : '/readyz')))
    for (const reply of replies) statuses.add(reply.statusCode)
  }
  t.same([...statuses], [200])
  t.equal(stub.hits, before, 'no hit on the stand-in')
})

test('faults #50: readiness answers at once while a recheck hangs', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { timeout: 2000, interval: 0 } })
  stub.set('hang')
  const pending = app.keyguard.recheck()
  await until(() => stub.hits === 2)
  const replies = await Promise.all(Array.from({ length: 100 }, () => app.inject('/readyz')))
  t.ok(replies.every((reply) => reply.statusCode === 200), 'served from the cached state')
  t.equal(stub.hits, 2, 'only the recheck itself reached the stand-in')
  await app.close()
  await pending
})

test('faults #59: readiness turns 503 as soon as the server starts closing', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const app = Fastify({ return503OnClosing: false })
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { interval: 0 } })
  const get = (url: string): Promise<number> => new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
  })
  let during: number | undefined
  app.addHook('preClose', async () => { during = await get(`${address}/readyz`) })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(await get(`${address}/readyz`), 200)
  await app.close()
  t.equal(during, 503)
})

test('faults #56: an application auth hook can skip the health routes by their route config', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD } })
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.keyguardHealth === true) return
    if (request.headers.authorization !== 'Bearer client') return reply.code(401).send({ error: 'unauthorized' })
  })
  app.get('/private', async () => ({ ok: true }))
  t.equal((await app.inject('/private')).statusCode, 401)
  t.equal((await app.inject('/readyz')).statusCode, 200)
  t.equal((await app.inject('/livez')).statusCode, 200)
  t.same((await app.inject('/readyz')).json().status, 'pass')
  t.equal(canary().length > 0, true)
})

test('an error on a health route (an app hook that throws) is the health 500, whatever the app\'s error handler', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const app = Fastify()
  t.teardown(() => app.close())
  app.setErrorHandler((_err, _request, reply) => reply.code(418).send({ app: true }))
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { interval: 0 } })
  app.addHook('preHandler', async () => { throw new Error('the app\'s hook failed') })
  app.get('/own', async () => 'own')
  for (const url of ['/livez', '/readyz']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 500, url)
    t.same(res.json(), { status: 'fail' })
    t.match(res.headers['content-type'], /^application\/health\+json/)
  }
  t.equal((await app.inject('/own')).statusCode, 418, 'the app\'s own routes keep the app\'s handler')
})
