// Issue 14: one probe per key per interval across the fleet, on a real redis-server.
import { test } from 'tap'
import { canary } from '../helpers/app.js'
import { probes, readiness, replicas, sleep } from '../helpers/fleet.js'
import { SKIP, startRedis } from '../helpers/redis.js'
import { stubFor } from '../helpers/stub.js'

test('20 replicas booting together with one key: exactly one probe, every replica passes', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const apps = await replicas(t, { stub, redis, key, count: 20 })
  await Promise.all(apps.map(({ app }) => app.ready()))
  t.equal(probes(stub), 1, 'one probe for the whole fleet')
  t.same(await readiness(apps), Array(20).fill(200))
  for (const { app } of apps) t.match(app.keyguard.report().checks.fireworks, { status: 'pass', cause: 'valid' })

  // A replica that boots while the verdict is fresh uses it and probes nothing.
  const [late] = await replicas(t, { stub, redis, key, count: 1 })
  await late?.app.ready()
  t.equal(probes(stub), 1, 'a late replica probes nothing')
  t.match(late?.app.keyguard.report().checks.fireworks, { status: 'pass', cause: 'valid' })
})

test('the control: the same 20 replicas without fleet mode probe 20 times', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const apps = await replicas(t, { stub, redis, key, count: 20, fleet: false })
  await Promise.all(apps.map(({ app }) => app.ready()))
  t.equal(probes(stub), 20)
})

test('20 replicas rechecking every interval: one probe per interval for the fleet', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const interval = 1_000
  const apps = await replicas(t, { stub, redis, key, count: 20, interval })
  // 20 digests computed in one process take longer than an interval on a busy machine: count from here.
  await Promise.all(apps.map(({ app }) => app.ready()))
  const start = performance.now()
  const times: number[] = []
  let seen = probes(stub)
  while (performance.now() - start < 5.5 * interval) {
    await sleep(20)
    if (probes(stub) > seen) {
      for (; seen < probes(stub); seen++) times.push(performance.now() - start)
    }
  }
  const elapsed = performance.now() - start
  // Without fleet mode 20 replicas make about 20 probes per interval; with it, one per verdict's life.
  t.ok(times.length >= 4 && times.length <= Math.ceil(elapsed / interval), `${times.length} probes in ${Math.round(elapsed)} ms`)
  const gaps = times.slice(1).map((at, i) => at - (times[i] as number))
  t.ok(gaps.every((gap) => gap >= interval * 0.9), `gaps between probes of at least one interval: ${gaps.map(Math.round).join(', ')}`)
  t.same(await readiness(apps), Array(20).fill(200))
})
