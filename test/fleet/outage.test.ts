// Issue 14: Redis is never a single point of failure: down, slow or restarted, every replica keeps serving.
import { test } from 'tap'
import { canary, until } from '../helpers/app.js'
import { lines, probes, readiness, replicas, sleep } from '../helpers/fleet.js'
import { SKIP, startRedis } from '../helpers/redis.js'
import { stubFor } from '../helpers/stub.js'
import { FLEET } from '../../lib/core/fleet.js'

const LOST = 'fleet: lost redis, probing locally'
const BACK = 'fleet: redis back'

test('Redis killed mid-run: every replica keeps serving, rechecks locally, and rejoins when Redis returns', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const interval = 800
  const apps = await replicas(t, { stub, redis, key, count: 10, interval })
  await Promise.all(apps.map(({ app }) => app.ready()))

  await redis.kill()
  t.ok(await until(() => apps.every((replica) => lines(replica, LOST).length === 1), 3_000), 'each replica says once that it lost Redis')
  const lost = probes(stub)
  await sleep(3 * interval)
  t.same(await readiness(apps), Array(10).fill(200), 'readiness never fails because of Redis')
  const served = await Promise.all(apps.map(({ app }) => app.inject({ method: 'POST', url: '/chat' })))
  t.same(served.map((res) => res.statusCode), Array(10).fill(200), 'every replica keeps serving')
  t.ok(probes(stub) - lost >= 10, `each replica rechecks on its own meanwhile (${probes(stub) - lost} probes)`)
  for (const replica of apps) t.equal(lines(replica, LOST).length, 1, 'one line per transition, not one per check')

  await redis.restart()
  // ioredis reconnects on its own backoff (up to 2 s), then a ping every ~1 s notices. On a loaded machine a
  // command may time out once more right after, a real second transition: what must hold is that every
  // replica ends back, and that each transition is told once (the lines alternate, never repeat).
  const told = (replica: typeof apps[number]): string[] =>
    replica.logs.records().map((r) => String(r.msg)).filter((msg) => msg.includes(LOST) || msg.includes(BACK))
  const isBack = (replica: typeof apps[number]): boolean => told(replica).at(-1)?.includes(BACK) === true
  t.ok(await until(() => apps.every(isBack), 3 * FLEET.retry + 2_000 + 5_000), 'each replica says that Redis is back')
  for (const replica of apps) {
    const said = told(replica).map((msg) => msg.includes(BACK) ? 'back' : 'lost')
    t.ok(said.every((word, i) => i === 0 || word !== said[i - 1]), `one line per transition: ${said.join(', ')}`)
  }
  await sleep(interval)
  const back = probes(stub)
  await sleep(4 * interval)
  const rejoined = probes(stub) - back
  t.ok(rejoined >= 1 && rejoined <= 5, `the fleet probes once per interval again (${rejoined} probes in 4 intervals)`)
  t.same(await readiness(apps), Array(10).fill(200))
})

test('Redis unreachable at boot: boot waits at most a Redis timeout, probes locally, readiness 200', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  await redis.kill()
  const apps = await replicas(t, { stub, redis, key, count: 3 })
  const started = performance.now()
  await Promise.all(apps.map(({ app }) => app.ready()))
  const took = performance.now() - started
  t.ok(took < 2 * FLEET.timeout + 1_000, `boot took ${Math.round(took)} ms`)
  t.equal(probes(stub), 3, 'each replica probed on its own')
  t.same(await readiness(apps), [200, 200, 200])
  for (const replica of apps) t.equal(lines(replica, LOST).length, 1)
})

test('Redis slow (every client paused): commands time out, replicas probe locally, then rejoin', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const apps = await replicas(t, { stub, redis, key, count: 3 })
  await Promise.all(apps.map(({ app }) => app.ready()))
  t.equal(probes(stub), 1)
  const admin = redis.client(t)
  await admin.client('PAUSE', 1_500, 'ALL')
  const started = performance.now()
  const reports = await Promise.all(apps.map(({ app }) => app.keyguard.recheck()))
  const took = performance.now() - started
  t.ok(took < FLEET.timeout + 1_000, `a recheck waits at most a Redis timeout before probing (${Math.round(took)} ms)`)
  t.ok(reports.every((report) => report.status === 'pass'))
  t.ok(probes(stub) >= 2, 'probed locally')
  // A replica whose verdict was still fresh in memory asked Redis nothing, and lost nothing.
  const hit = apps.filter((replica) => lines(replica, LOST).length === 1)
  t.ok(hit.length >= 1, `${hit.length} replica(s) lost Redis`)
  t.ok(await until(() => hit.every((replica) => lines(replica, BACK).length === 1), 3 * FLEET.retry + 2_000), 'back after the pause')
})
