// Issue 14: "an ioredis-compatible client (ioredis, iovalkey, …)". The claim is proven with the real iovalkey
// package beside ioredis, in one fleet: the two kinds of replica share one verdict and one flip.
import { Redis as Valkey } from 'iovalkey'
import { test } from 'tap'
import { canary } from '../helpers/app.js'
import { probes, readiness, replicas } from '../helpers/fleet.js'
import { SKIP, startRedis } from '../helpers/redis.js'
import { stubFor } from '../helpers/stub.js'

test('a fleet of ioredis and iovalkey replicas: one probe at boot, one flip for all', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const valkey = (): Valkey => {
    const client = new Valkey({ host: '127.0.0.1', port: redis.port, lazyConnect: false })
    t.teardown(() => { client.disconnect() })
    return client
  }
  const ioredis = await replicas(t, { stub, redis, key, count: 3 })
  const iovalkey = [
    ...await replicas(t, { stub, redis, key, count: 1, extra: { fleet: { redis: valkey() } } }),
    ...await replicas(t, { stub, redis, key, count: 1, extra: { fleet: { redis: valkey() } } }),
    ...await replicas(t, { stub, redis, key, count: 1, extra: { fleet: { redis: valkey() } } })
  ]
  const apps = [...ioredis, ...iovalkey]
  await Promise.all(apps.map(({ app }) => app.ready()))
  t.equal(probes(stub), 1, 'one probe for the six replicas, whichever client each holds')
  t.same(await readiness(apps), Array(6).fill(200))

  // A 401 seen by an iovalkey replica flips the ioredis ones too.
  stub.set('auth', { keys: [] })
  const before = probes(stub)
  const res = await iovalkey[0]?.app.inject({ method: 'POST', url: '/chat' })
  t.equal(res?.statusCode, 502)
  const deadline = performance.now() + 1_000
  let codes = await readiness(apps)
  while (!codes.every((code) => code === 503) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    codes = await readiness(apps)
  }
  t.same(codes, Array(6).fill(503), 'every replica, ioredis or iovalkey, is not ready within 1 s')
  t.equal(probes(stub) - before, 1, 'one confirming probe')
})
