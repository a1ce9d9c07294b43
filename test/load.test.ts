// Load: readiness hammering and a concurrent burst of runtime 401s while probes hang. No upstream
// fan-out, no unhandled rejection, and no handle left behind after close().
import { test } from 'tap'
import type { Test } from 'tap'
import { appWith, canary, leaks, until } from './helpers/app.js'
import { loopback } from './helpers/loopback.js'

const PROBE_PATH = '/v1/accounts/fireworks/models'
const CHAT = '/inference/v1/chat/completions'

/** Resource counts by type (`process.getActiveResourcesInfo()`). */
function resources (): Map<string, number> {
  const counts = new Map<string, number>()
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1)
  return counts
}

/** Types of which there are more now than in `baseline`. */
function grown (baseline: Map<string, number>): string[] {
  return [...resources()].filter(([name, count]) => count > (baseline.get(name) ?? 0)).map(([name, count]) => `${name}: ${baseline.get(name) ?? 0} → ${count}`)
}

/**
 * A stand-in whose probe path answers 200 until `hang()`, then never answers; every other path
 * answers 401. Counts probe hits and chat hits separately.
 */
async function standIn (t: Test): Promise<{ url: string, probes: () => number, chats: () => number, hang: () => void }> {
  let hanging = false
  let probes = 0
  let chats = 0
  const { url } = await loopback(t, (req, res) => {
    if (req.url?.startsWith(PROBE_PATH) === true) {
      probes++
      if (hanging) return
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end('{"models":[]}')
    }
    chats++
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="upstream"' })
    res.end('{"error":{"message":"Incorrect API key provided"}}')
  })
  return { url, probes: () => probes, chats: () => chats, hang: () => { hanging = true } }
}

const escaped: unknown[] = []
const onEscape = (err: unknown): void => { escaped.push(err) }
process.on('unhandledRejection', onEscape)

test('faults #50 #93: 10 000 readiness and liveness hits while a recheck hangs: zero upstream calls, constant time', async (t) => {
  const key = canary()
  const stand = await standIn(t)
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stand.url }], env: { FIREWORKS_API_KEY: key }, probe: { interval: 0, retries: 0, timeout: 30_000 } }, { logger: false })
  await app.ready()
  stand.hang()
  const recheck = app.keyguard.recheck()
  t.ok(await until(() => stand.probes() === 2), 'a recheck is hanging upstream')
  const times: number[] = []
  for (let batch = 0; batch < 100; batch++) {
    await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const started = performance.now()
      const res = await app.inject(i % 2 === 0 ? '/readyz' : '/livez')
      times.push(performance.now() - started)
      if (res.statusCode !== 200) t.fail(`answered ${res.statusCode}`)
    }))
  }
  times.sort((a, b) => a - b)
  const p50 = times[Math.floor(times.length * 0.5)] as number
  const p99 = times[Math.floor(times.length * 0.99)] as number
  t.equal(times.length, 10_000)
  t.equal(stand.probes(), 2, 'no probe caused by health traffic')
  t.equal(stand.chats(), 0)
  // What is proven is that no answer waits for the hanging probe (30 s): the bounds are far below it and far
  // above a loaded 2-core machine's noise (timings are the benchmarks' business, not this test's).
  t.ok(p99 < 2_000, `concurrent batches: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`)
  // One at a time, as a kubelet asks: each answer is cached state, so the time is Fastify's own.
  const one: number[] = []
  for (let i = 0; i < 1_000; i++) {
    const started = performance.now()
    await app.inject('/readyz')
    one.push(performance.now() - started)
  }
  one.sort((a, b) => a - b)
  const seq99 = one[990] as number
  t.ok(seq99 < 200, `one at a time: p99 ${seq99.toFixed(2)} ms`)
  await app.close()
  await recheck
})

test('faults #95 #96 #82: 500 concurrent runtime 401s through keyguard.fetch while the probe hangs: one extra probe, every reply a problem, nothing left after close()', async (t) => {
  const key = canary()
  const stand = await standIn(t)
  const baseline = resources()
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stand.url }], env: { FIREWORKS_API_KEY: key }, probe: { interval: 0, retries: 0, timeout: 30_000 } })
  app.post('/chat', async (_req, reply) => {
    const res = await app.keyguard.fetch(stand.url + CHAT, { method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}` }, body: '{}' })
    reply.code(res.status)
    return res.text()
  })
  await app.ready()
  t.equal(stand.probes(), 1, 'the boot probe')
  stand.hang()
  const burst = await Promise.all(Array.from({ length: 500 }, () => app.inject({ method: 'POST', url: '/chat' })))
  t.equal(stand.chats(), 500, 'every request reached the upstream once (nothing retried)')
  t.ok(burst.every((res) => res.statusCode === 502 && /problem\+json/.test(String(res.headers['content-type']))), 'every reply is the 502 problem')
  t.ok(burst.every((res) => res.headers['www-authenticate'] === undefined), 'no upstream challenge forwarded')
  t.ok(await until(() => stand.probes() === 2), 'the suspicion started one recheck')
  // More 401s while that recheck hangs start nothing new (singleflight and the suspicion gap).
  await Promise.all(Array.from({ length: 100 }, () => app.inject({ method: 'POST', url: '/chat' })))
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(stand.probes(), 2, 'at most one extra probe for 600 upstream 401s')
  const records = logs.records()
  t.equal(records.filter((r) => String(r.msg).includes('rechecking it')).length, 1, 'one suspicion logged')
  const transitions = records.filter((r) => (r.keyguard as { from?: unknown } | undefined)?.from !== undefined)
  t.same(transitions.map((r) => (r.keyguard as { from: unknown }).from), ['pending'], 'one transition logged (the boot)')
  t.same(leaks(logs.text(), key), [], 'no piece of the key in 600 requests\' logs')
  const closing = performance.now()
  await app.close()
  t.ok(performance.now() - closing < 1_000, 'close() aborts the hanging recheck at once')
  const hits = stand.probes() + stand.chats()
  t.ok(await until(() => grown(baseline).length === 0, 1_000), `no resource left after close(): ${grown(baseline).join(', ') || 'none'}`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(stand.probes() + stand.chats(), hits, 'no upstream call after close()')
})

test('faults #90: no unhandled rejection during the load tests', async (t) => {
  await new Promise((resolve) => setTimeout(resolve, 20))
  process.off('unhandledRejection', onEscape)
  t.same(escaped.map(String), [])
})
