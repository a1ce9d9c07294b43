// `npm run bench:fleet` (about 2–3 minutes): fleet mode (issue 14) with N = 1, 10 and 50 replica apps, each
// its own process, against one real redis-server and one counting loopback stand-in (127.0.0.1 only).
// Measures probes when N boot together, probes per key per interval, the time from the first runtime 401
// on one replica to readiness failing on the last (p50/p99), and Redis commands per replica per interval
// (INFO commandstats deltas). Results: printed as a Markdown table, and written to bench/results/fleet.json.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { startRedis } from '../test/helpers/redis.js'
import { startStub } from '../test/helpers/stub.js'

const HERE = dirname(fileURLToPath(import.meta.url))
/** The replica, bundled once per run (its packages stay in node_modules). */
const REPLICA = join(HERE, 'results', 'fleet-replica.js')
const KEY = 'fw_' + 'Bench0Fleet1Key2Abcdefghij'
const PROBE_PATH = '/v1/accounts/fireworks/models'
const CHAT = '/inference/v1/chat/completions'
/** Recheck interval of the replicas; the quiet window lasts `WINDOW` intervals. */
const INTERVAL = 2_000
const WINDOW = 5
/** The Redis commands fleet mode sends (INFO and the bench's own reads are not counted). */
const FLEET_COMMANDS = ['get', 'set', 'publish', 'eval', 'evalsha', 'ping', 'subscribe', 'del']

type Message =
  | { type: 'loaded' }
  | { type: 'booted' }
  | { type: 'listening', port: number }
  | { type: 'change', status: string, at: number }
  | { type: 'rejected', at: number }

// ───────────────────────── replica (child process) ─────────────────────────

async function replica (): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const { default: keyguard } = await import('../index.js')
  const env = process.env
  const send = (message: Message): void => { process.send?.(message) }
  const word = (): Promise<void> => new Promise((resolve) => process.once('message', () => resolve()))
  const redis = new Redis({ port: Number(env.REDIS_PORT), host: '127.0.0.1' })
  redis.on('error', () => {})
  const stub = env.STUB_URL as string
  const make = async (namespace: string, interval: number): Promise<FastifyInstance> => {
    // 50 replicas on 2 shared cores take ~20 s to boot together; Fastify's default 10 s would end keyguard's
    // boot deadline (and so the fleet's turn) before they can coordinate. `BOOT_TIMEOUT` sets it.
    const app = Fastify({ pluginTimeout: Number(env.BOOT_TIMEOUT ?? 60_000) })
    await app.register(keyguard, {
      keys: [{ name: 'fireworks', value: env.BENCH_KEY as string, baseUrl: stub }],
      env: {},
      probe: { interval, retries: 0, timeout: 2_000, jitter: 0.2 },
      fleet: { redis, namespace },
      onChange: (_report, change) => { send({ type: 'change', status: change.current.status, at: Date.now() }) }
    })
    app.post('/chat', async (_request, reply) => {
      const res = await app.keyguard.fetch(stub + CHAT, {
        method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}` }, body: '{}'
      })
      if (res.status === 401) send({ type: 'rejected', at: Date.now() })
      await res.arrayBuffer()
      return reply.code(res.status).send({})
    })
    app.post('/recheck', async () => app.keyguard.recheck())
    return app
  }
  // Phase 1, the boot burst: every replica waits for the word, then boots (keyguard's boot check runs in
  // ready()), with an interval long enough that no recheck is counted as a boot probe.
  const boot = await make(`${env.NAMESPACE}-boot`, 600_000)
  send({ type: 'loaded' })
  await word()
  await boot.ready()
  send({ type: 'booted' })
  // Phase 2, in another namespace: routine rechecks every INTERVAL, and runtime 401s.
  await word()
  await boot.close()
  const app = await make(env.NAMESPACE as string, INTERVAL)
  await app.listen({ port: 0, host: '127.0.0.1' })
  send({ type: 'listening', port: (app.server.address() as { port: number }).port })
  process.once('disconnect', () => { app.close().then(() => redis.quit()).finally(() => process.exit(0)) })
}

// ───────────────────────── parent ─────────────────────────

interface Child {
  proc: ChildProcess
  port: number
  messages: Message[]
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

async function commandCalls (admin: Redis): Promise<number> {
  const info = await admin.info('commandstats')
  let total = 0
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    if (FLEET_COMMANDS.includes(match[1] as string)) total += Number(match[2])
  }
  return total
}

async function until (test: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (test()) return true
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return test()
}

async function run (n: number, redisPort: number, admin: Redis): Promise<Record<string, number | string>> {
  const stub = await startStub({ mode: 'auth', keys: [KEY] })
  const probes = (): number => stub.requests.filter((r) => r.path.startsWith(PROBE_PATH)).length
  const namespace = `bench${n}`
  const children: Child[] = []
  for (let i = 0; i < n; i++) {
    // Plain JS, not tsx: 50 processes compiling TypeScript on a shared 2-core machine take minutes.
    const proc = fork(REPLICA, ['--replica'], {
      env: { ...process.env, REDIS_PORT: String(redisPort), STUB_URL: stub.url, BENCH_KEY: KEY, NAMESPACE: namespace },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const child: Child = { proc, port: 0, messages: [] }
    proc.on('message', (message: Message) => {
      if (process.env.BENCH_DEBUG !== undefined) console.log(i, message)
      child.messages.push(message)
      if (message.type === 'listening') child.port = message.port
    })
    children.push(child)
  }
  const has = (child: Child, test: (m: Message) => boolean): boolean => child.messages.some(test)
  process.once('exit', () => { for (const child of children) child.proc.kill('SIGKILL') })
  if (!await until(() => children.every((c) => has(c, (m) => m.type === 'loaded')), 120_000)) throw new Error('replicas did not load')
  const go = Date.now()
  for (const child of children) child.proc.send('go')
  if (!await until(() => children.every((c) => has(c, (m) => m.type === 'booted')), 180_000)) throw new Error('replicas did not boot')
  const bootProbes = probes()
  const bootMs = Date.now() - go
  for (const child of children) child.proc.send('next')
  if (!await until(() => children.every((c) => c.port > 0), 180_000)) throw new Error('replicas did not listen')
  // Let the second boot's probe and its verdict settle before the quiet window.
  await new Promise((resolve) => setTimeout(resolve, INTERVAL))

  // Quiet window: routine rechecks only.
  const probesBefore = probes()
  const callsBefore = await commandCalls(admin)
  await new Promise((resolve) => setTimeout(resolve, WINDOW * INTERVAL))
  const calls = await commandCalls(admin) - callsBefore
  const perInterval = (probes() - probesBefore) / WINDOW

  // Flips: revoke, one replica's request gets a 401, wait until every replica fails; heal through another.
  const post = (child: Child, path: string): Promise<Response> => fetch(`http://127.0.0.1:${child.port}${path}`, { method: 'POST' })
  const flips: number[] = []
  const rounds = n === 1 ? 2 : 10
  for (let round = 0; round < rounds; round++) {
    // One suspicion per key per replica every 5 s (SUSPECT_GAP): each round asks another replica.
    const first = children[round % n] as Child
    if (n === 1 && round > 0) await new Promise((resolve) => setTimeout(resolve, 5_200))
    for (const child of children) child.messages = []
    stub.set('auth', { keys: [] })
    await post(first, '/chat')
    const failed = await until(() => children.every((c) => has(c, (m) => m.type === 'change' && m.status === 'fail')), 10_000)
    const rejected = first.messages.find((m) => m.type === 'rejected') as { at: number } | undefined
    if (failed && rejected !== undefined) {
      const last = Math.max(...children.map((c) => (c.messages.find((m) => m.type === 'change' && m.status === 'fail') as { at: number }).at))
      flips.push(last - rejected.at)
    }
    for (const child of children) child.messages = []
    stub.set('auth', { keys: [KEY] })
    await post(children[(round + 1) % n] as Child, '/recheck')
    await until(() => children.every((c) => has(c, (m) => m.type === 'change' && m.status === 'pass')), 10_000)
  }
  for (const child of children) child.proc.disconnect()
  await Promise.all(children.map((c) => new Promise((resolve) => c.proc.exitCode !== null ? resolve(undefined) : c.proc.once('exit', resolve))))
  await stub.close()
  return {
    replicas: n,
    bootProbes,
    bootMs,
    probesPerInterval: perInterval,
    flipP50: flips.length > 0 ? quantile(flips, 0.5) : NaN,
    flipP99: flips.length > 0 ? quantile(flips, 0.99) : NaN,
    flips: `${flips.length}/${rounds}`,
    redisPerReplicaPerInterval: calls / n / WINDOW
  }
}

async function main (): Promise<void> {
  const started = Date.now()
  await build({
    entryPoints: [fileURLToPath(import.meta.url)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: REPLICA,
    logLevel: 'warning'
  })
  const redis = await startRedis()
  const admin = redis.client()
  const rows: Array<Record<string, number | string>> = []
  try {
    const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice(7)
    for (const n of only === undefined ? [1, 10, 50] : only.split(',').map(Number)) {
      const row = await run(n, redis.port, admin)
      rows.push(row)
      console.log(JSON.stringify(row))
    }
  } finally {
    await redis.stop()
  }
  const mark = (ok: boolean): string => ok ? 'met' : '**missed**'
  const lines = [
    '| replicas | probes at boot (goal 1) | probes per interval (goal ≤ 1) | first 401 → last replica fails, p50 / p99 (goal p99 ≤ 1 s) | Redis commands per replica per interval |',
    '|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.replicas} | ${r.bootProbes} (${mark(r.bootProbes === 1)}) | ${Number(r.probesPerInterval).toFixed(2)} (${mark(Number(r.probesPerInterval) <= 1)}) | ` +
      `${r.flipP50} ms / ${r.flipP99} ms, ${r.flips} rounds (${mark(Number(r.flipP99) <= 1000)}) | ${Number(r.redisPerReplicaPerInterval).toFixed(2)} |`)
  ]
  console.log('\n' + lines.join('\n'))
  console.log(`\nbench:fleet took ${Math.round((Date.now() - started) / 1000)} s`)
  await mkdir(join(HERE, 'results'), { recursive: true })
  await writeFile(join(HERE, 'results', 'fleet.json'), JSON.stringify({ interval: INTERVAL, window: WINDOW, rows }, null, 2))
}

if (process.argv.includes('--replica')) await replica()
else await main()
