// `npm run bench` (about 6 minutes) and `npm run bench -- --quick` (about 1 minute).
// Side-by-side ratios only: absolute req/s swings several-fold between runs on a shared machine, so
// each figure compares two servers measured in the same run, interleaved A B / B A over several rounds.
// The primary figure is the server process's own CPU time per request (process.cpuUsage() deltas
// taken inside the server child), because the load generator in this process saturates a core.
import { execFileSync, fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, release, totalmem, type } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { makePki } from '../test/helpers/pki.js'
import { startStub } from '../test/helpers/stub.js'
import type { Stub } from '../test/helpers/stub.js'
import type { Command, Message, ServerConfig } from './server.js'
import { median, mergeRuns } from './runs.js'
import { CONCURRENCY } from '../lib/core/schedule.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
const RESULTS = join(HERE, 'results')
// Inside the repository (gitignored), so the compiled files find package.json ("type": "module") and node_modules.
const BUILD = join(RESULTS, 'build')
const README = join(HERE, 'README.md')
const KEY = 'fw_' + 'Bench0Key1Valid2Abcdefgh'
const WRONG_KEY = 'fw_' + 'Bench0Key1Wrong2Abcdefgh'
const PROBE_PATH = '/v1/accounts/fireworks/models'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const profile = argv.includes('--profile')
// Reuse bench/results/build as it is (to try a change in the compiled lib before proposing it).
const keepBuild = argv.includes('--keep-build')
const wanted = new Set((argv.find((arg) => arg.startsWith('--only='))?.slice(7) ?? '0,1,2,3,4,5,6,7').split(','))
// --runs=3: three consecutive runs, each in a child process of its own, reported as their median and spread.
const runs = Math.max(1, Number(argv.find((arg) => arg.startsWith('--runs='))?.slice(7) ?? 1) || 1)
// With --runs, this process measures nothing itself: its runs do.
const only = runs > 1 ? new Set<string>() : wanted
// Where a run launched by --runs writes its results.
const out = argv.find((arg) => arg.startsWith('--out='))?.slice(6)

const SETTINGS = quick
  ? { rounds: 3, window: 1.5, warmup: 1, connections: 10, bootRounds: 2, memoryRequests: 100_000 }
  : { rounds: 6, window: 3, warmup: 2, connections: 10, bootRounds: 5, memoryRequests: 1_000_000 }

// Hard stop: the bench ends by itself even if a child or a socket hangs.
const watchdog = setTimeout(() => {
  console.error('bench: watchdog fired, stopping')
  for (const child of children) child.proc.kill('SIGKILL')
  process.exit(2)
}, (quick ? 4 : 12) * 60_000 * runs)
watchdog.unref()

// ───────────────────────── statistics ─────────────────────────

interface Spread { median: number, min: number, max: number }

function spread (values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

const f2 = (n: number): string => n.toFixed(2)
const f3 = (n: number): string => n.toFixed(3)
const f0 = (n: number): string => n.toFixed(0)
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)
const signed = (n: number, fmt: (n: number) => string): string => (n >= 0 ? '+' : '−') + fmt(Math.abs(n))

// ───────────────────────── server children ─────────────────────────

type Answer = Extract<Message, { type: 'answer' }>
type Listening = Extract<Message, { type: 'listening' }>

const children = new Set<Child>()

class Child {
  readonly proc: ChildProcess
  readonly label: string
  #next = 0
  readonly #pending = new Map<number, (answer: Answer) => void>()
  listening!: Listening
  /** ms from fork() to the child's "listening" message. */
  bootMs = 0

  private constructor (proc: ChildProcess, label: string) {
    this.proc = proc
    this.label = label
    proc.on('message', (message: Message) => {
      if (message.type === 'answer') {
        this.#pending.get(message.id)?.(message)
        this.#pending.delete(message.id)
      }
    })
  }

  static async spawn (label: string, config: ServerConfig, env: Record<string, string> = {}): Promise<Child> {
    const execArgv = ['--expose-gc']
    const profDir = join(RESULTS, 'prof', label.replace(/[^\w-]+/g, '_'))
    if (profile) execArgv.push('--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profDir)
    const started = performance.now()
    // A clean environment: no proxy variables, no NODE_OPTIONS loader from this process.
    const proc = fork(join(BUILD, 'bench', 'server.js'), [], {
      execArgv,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', BENCH_SERVER: JSON.stringify(config), ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const child = new Child(proc, label)
    children.add(child)
    proc.on('exit', () => children.delete(child))
    child.listening = await new Promise<Listening>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: not listening after 30 s`)), 30_000)
      proc.on('message', (message: Message) => {
        if (message.type === 'listening') {
          clearTimeout(timer)
          resolve(message)
        }
      })
      proc.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${label}: exited with ${code} before listening`))
      })
    })
    child.bootMs = performance.now() - started
    // Beside the profile, so bench/profile.ts --window can cut it at the boot marks.
    if (profile) await mkdir(profDir, { recursive: true })
    if (profile) await writeFile(join(profDir, `${String(proc.pid)}.marks.json`), JSON.stringify(child.listening.marks))
    return child
  }

  get url (): string {
    return `http://127.0.0.1:${this.listening.port}`
  }

  call (cmd: Command): Promise<Answer> {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no answer to ${cmd}`)), 30_000)
      this.#pending.set(id, (answer) => {
        clearTimeout(timer)
        resolve(answer)
      })
      this.proc.send({ id, cmd })
    })
  }

  async exit (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()))
    this.proc.send({ id: -1, cmd: 'exit' })
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

process.on('exit', () => {
  for (const child of children) child.proc.kill('SIGKILL')
})

// ───────────────────────── CPU cases (1–4) ─────────────────────────

interface Sample { cpuUsPerReq: number, rps: number, p50: number, p99: number, requests: number, statuses: Record<string, number>, errors: number }

async function measure (child: Child, path: string, seconds: number): Promise<Sample> {
  await child.call('start')
  const result = await autocannon({ url: child.url + path, connections: SETTINGS.connections, duration: seconds })
  const stop = await child.call('stop')
  const requests = stop.requests ?? 0
  const statuses: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count
  return {
    cpuUsPerReq: (stop.cpuUs ?? 0) / Math.max(1, requests),
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    statuses,
    errors: result.errors
  }
}

/** `plain-b`: a second plain Fastify child in the keyguard child's place, for the A/A control. */
interface Config { label: string, server: 'plain' | 'keyguard' | 'plain-b', path: string, expect: number }
interface RatioSpec { label: string, subject: number, base: number, goal: number }
interface CpuCase { id: string, title: string, configs: Config[], ratios: RatioSpec[], logger?: boolean }

interface RatioResult {
  case: string
  label: string
  goal: number
  cpu: Spread
  rps: Spread
  p50: Spread
  p99: Spread
  base: { label: string, cpuUsPerReq: number, rps: number, p50: number, p99: number }
  subject: { label: string, cpuUsPerReq: number, rps: number, p50: number, p99: number }
  met: boolean
}

const CPU_CASES: CpuCase[] = [
  {
    id: '0',
    title: 'A/A control',
    configs: [
      { label: 'plain /json', server: 'plain', path: '/json', expect: 200 },
      { label: 'second plain /json', server: 'plain-b', path: '/json', expect: 200 }
    ],
    ratios: [{ label: 'A/A control: a second plain Fastify child ÷ the first (should read 1.00×: the method\'s own bias)', subject: 1, base: 0, goal: 1.01 }]
  },
  {
    id: '1',
    title: 'GET small JSON',
    configs: [
      { label: 'plain /json', server: 'plain', path: '/json', expect: 200 },
      { label: 'keyguard /json', server: 'keyguard', path: '/json', expect: 200 }
    ],
    ratios: [{ label: 'keyguard registered (valid key) ÷ plain Fastify', subject: 1, base: 0, goal: 1.01 }]
  },
  {
    id: '2',
    title: 'GET small JSON, gated',
    configs: [
      { label: 'plain /gated', server: 'plain', path: '/gated', expect: 200 },
      { label: 'keyguard /gated', server: 'keyguard', path: '/gated', expect: 200 }
    ],
    ratios: [{ label: "config: { keyguard: 'fireworks' } ÷ plain Fastify", subject: 1, base: 0, goal: 1.02 }]
  },
  {
    id: '3',
    title: 'readiness',
    configs: [
      { label: 'plain /readyz (constant JSON)', server: 'plain', path: '/readyz', expect: 200 },
      { label: 'keyguard /readyz', server: 'keyguard', path: '/readyz', expect: 200 },
      { label: 'keyguard /const (constant JSON)', server: 'keyguard', path: '/const', expect: 200 }
    ],
    ratios: [
      { label: 'keyguard /readyz ÷ plain Fastify constant-JSON route', subject: 1, base: 0, goal: 1.00 },
      { label: 'keyguard /readyz ÷ constant-JSON route in the same keyguard app', subject: 1, base: 2, goal: 1.00 }
    ]
  },
  {
    id: '4',
    title: 'upstream 401 thrown (openai-node shape)',
    configs: [
      { label: 'plain /throw → 401 JSON', server: 'plain', path: '/throw', expect: 401 },
      { label: 'keyguard /throw → 502 problem+json', server: 'keyguard', path: '/throw', expect: 502 }
    ],
    ratios: [{ label: "keyguard 502 problem+json ÷ Fastify's default 401", subject: 1, base: 0, goal: 1.00 }]
  },
  {
    id: '4',
    title: 'upstream 401 thrown, logging at info',
    logger: true,
    configs: [
      { label: 'plain /throw → 401 JSON, logger on', server: 'plain', path: '/throw', expect: 401 },
      { label: 'keyguard /throw → 502 problem+json, logger on', server: 'keyguard', path: '/throw', expect: 502 }
    ],
    ratios: [{ label: "the same, both logging at info to /dev/null (Fastify's logger: true)", subject: 1, base: 0, goal: 1.00 }]
  }
]

async function runCpuCase (spec: CpuCase, stub: Stub): Promise<{ ratios: RatioResult[], samples: Record<string, Sample[]> }> {
  const tag = `case${spec.id}${spec.logger === true ? '-logger' : ''}`
  const logger = spec.logger === true
  const plain = await Child.spawn(`${tag}-plain`, { variant: 'plain', stub: stub.url, keys: 0, upstreamKey: KEY, logger })
  const second = spec.configs.some((config) => config.server === 'plain-b') ? 'plain' : 'keyguard'
  const guarded = await Child.spawn(`${tag}-${second === 'plain' ? 'plain-b' : 'keyguard'}`, { variant: second, stub: stub.url, keys: 0, upstreamKey: KEY, logger }, { FIREWORKS_API_KEY: KEY })
  const server = (config: Config): Child => config.server === 'plain' ? plain : guarded
  const samples: Record<string, Sample[]> = {}
  try {
    for (const config of spec.configs) {
      const warm = await measure(server(config), config.path, SETTINGS.warmup)
      if (warm.statuses[config.expect] === undefined) {
        throw new Error(`${config.label}: expected ${config.expect}, got ${JSON.stringify(warm.statuses)}`)
      }
      samples[config.label] = []
    }
    for (let round = 0; round < SETTINGS.rounds; round++) {
      const order = round % 2 === 0 ? spec.configs : [...spec.configs].reverse()
      for (const config of order) {
        const sample = await measure(server(config), config.path, SETTINGS.window)
        const unexpected = Object.entries(sample.statuses).filter(([code]) => Number(code) !== config.expect)
        if (unexpected.length > 0 || sample.errors > 0) console.warn(`  ${config.label}: unexpected answers ${JSON.stringify(sample.statuses)}, errors ${sample.errors}`)
        samples[config.label]?.push(sample)
      }
    }
  } finally {
    await Promise.all([plain.exit(), guarded.exit()])
  }
  const ratios = spec.ratios.map((ratio): RatioResult => {
    const subject = spec.configs[ratio.subject] as Config
    const base = spec.configs[ratio.base] as Config
    const s = samples[subject.label] as Sample[]
    const b = samples[base.label] as Sample[]
    const per = (pick: (x: Sample) => number): number[] => s.map((x, i) => pick(x) / Math.max(1e-9, pick(b[i] as Sample)))
    const summary = (label: string, list: Sample[]): RatioResult['base'] => ({
      label,
      cpuUsPerReq: median(list.map((x) => x.cpuUsPerReq)),
      rps: median(list.map((x) => x.rps)),
      p50: median(list.map((x) => x.p50)),
      p99: median(list.map((x) => x.p99))
    })
    const cpu = spread(per((x) => x.cpuUsPerReq))
    return {
      case: spec.id,
      label: ratio.label,
      goal: ratio.goal,
      cpu,
      rps: spread(per((x) => x.rps)),
      p50: spread(per((x) => Math.max(x.p50, 1))),
      p99: spread(per((x) => Math.max(x.p99, 1))),
      base: summary(base.label, b),
      subject: summary(subject.label, s),
      met: cpu.median <= ratio.goal
    }
  })
  console.log(`  case ${spec.id}${logger ? ' (logger on)' : ''}: CPU/req ratio ${ratios.map((r) => f3(r.cpu.median)).join(', ')}`)
  return { ratios, samples }
}

// ───────────────────────── boot (5) and memory at listening (6a) ─────────────────────────

/**
 * The provider stand-in of a boot row: TLS offering HTTP/2 and HTTP/1.1 at ALPN, as providers' APIs do (the
 * goal's rows); TLS with HTTP/1.1 only (a provider without HTTP/2); cleartext HTTP/1.1 (the stand-in of runs
 * before 2026-11-30). The last two are comparisons, without a goal.
 */
type Stand = 'h2' | 'tls-h1' | 'http'
const STAND_LABEL: Record<Stand, string> = { h2: 'TLS, h2', 'tls-h1': 'TLS, HTTP/1.1 only', http: 'cleartext HTTP/1.1' }

interface BootRow {
  keys: number
  delay: number
  stand: Stand
  plainMs: Spread
  keyguardMs: Spread
  /** The floor child (plain Fastify doing the probes' network work by hand) over plain Fastify. */
  floorMs: Spread
  /** keyguard over the floor child, per round: what keyguard adds beyond the probes' own network work (judged). */
  overFloorMs: Spread
  /** keyguard over plain Fastify minus the stand-in's probe delay: the stricter reading, which counts the TLS
   * handshake and the stand-in's own time to answer as keyguard's. */
  overheadMs: Spread
  /** The same from the children's own clocks (process start to listening): no fork/IPC time in it. */
  inChildMs: Spread
  /** The keyguard child's CPU time to listening minus plain Fastify's: what load on the machine moves least. */
  cpuMs: Spread
  importMs: Spread
  /** app.ready(): keyguard's boot check (the probes). */
  readyMs: Spread
  slowestProbeMs: Spread
  rssDiff: Spread
  heapDiff: Spread
  status: string
  met: boolean
}

const BOOT_GOAL_MS = 50
const BOOT_COMBOS: Array<[number, number, Stand]> = [
  [1, 0, 'h2'], [1, 50, 'h2'], [1, 200, 'h2'], [5, 0, 'h2'], [5, 50, 'h2'], [5, 200, 'h2'], [20, 0, 'h2'], [20, 50, 'h2'],
  [20, 200, 'h2'], [50, 0, 'h2'], [50, 50, 'h2'], [50, 200, 'h2'], [5, 100, 'h2'],
  [1, 0, 'tls-h1'], [20, 0, 'tls-h1'], [50, 0, 'tls-h1'], [1, 0, 'http'], [20, 0, 'http'], [50, 0, 'http']
]

/**
 * Probe round trips a boot needs: keys are probed at most CONCURRENCY at a time (a documented bound on the
 * fan-out at a provider), so 50 keys wait for two of the stand-in's delays, and that is what is taken off.
 */
const waves = (keys: number): number => Math.ceil(keys / CONCURRENCY)

/** Key `i` of a boot: each key its own value, as in an app, so per-value work (its forms, its checks) is paid for each. */
const bootKey = (i: number): string => `${KEY.slice(0, -4)}${String(i).padStart(4, '0')}`

async function boot (stub: Stub, keys: number, delay: number, stand: Stand): Promise<BootRow> {
  const env: Record<string, string> = {}
  for (let i = 1; i <= keys; i++) env[`K${i}`] = bootKey(i)
  stub.set('slow', { delay, keys: Object.values(env) })
  const plain: number[] = []
  const floors: number[] = []
  const guarded: number[] = []
  const probes: number[] = []
  const rss: number[] = []
  const heap: number[] = []
  const inChild: number[] = []
  const imports: number[] = []
  const readies: number[] = []
  const cpu: number[] = []
  let status = ''
  for (let round = 0; round < SETTINGS.bootRounds; round++) {
    let p: Child | undefined
    let k: Child | undefined
    let fl: Child | undefined
    // The three children in a rotating order, so none is always first after the previous row's.
    const order = (['plain', 'floor', 'keyguard'] as const).map((_, i, all) => all[(i + round) % all.length] as ServerConfig['variant'])
    for (const variant of order) {
      const config: ServerConfig = { variant, stub: stub.url, keys, upstreamKey: KEY, http1: stand !== 'h2' }
      const child = await Child.spawn(`boot-${variant}-${keys}x${delay}${stand === 'h2' ? '' : `-${stand}`}`, config, variant === 'plain' ? TLS_ENV : { ...env, ...TLS_ENV })
      if (variant === 'plain') p = child
      else if (variant === 'floor') fl = child
      else k = child
      await child.exit()
    }
    if (p === undefined || k === undefined || fl === undefined) throw new Error('unreachable')
    plain.push(p.bootMs)
    floors.push(fl.bootMs)
    guarded.push(k.bootMs)
    probes.push(k.listening.probeMs)
    rss.push(k.listening.rss - p.listening.rss)
    heap.push(k.listening.heapUsed - p.listening.heapUsed)
    status = k.listening.status
    const km = k.listening.marks
    inChild.push((km.listening ?? 0) - (p.listening.marks.listening ?? 0) - waves(keys) * delay)
    imports.push((km.keyguardLoaded ?? 0) - (km.importing ?? km.fastifyLoaded ?? 0))
    readies.push((km.ready ?? 0) - (km.registered ?? 0))
    cpu.push((km.listeningCpu ?? 0) - (p.listening.marks.listeningCpu ?? 0))
  }
  const overhead = guarded.map((ms, i) => ms - (plain[i] as number) - waves(keys) * delay)
  const overheadMs = spread(overhead)
  const overFloorMs = spread(guarded.map((ms, i) => ms - (floors[i] as number)))
  return {
    keys,
    delay,
    stand,
    plainMs: spread(plain),
    keyguardMs: spread(guarded),
    floorMs: spread(floors.map((ms, i) => ms - (plain[i] as number))),
    overFloorMs,
    overheadMs,
    inChildMs: spread(inChild),
    cpuMs: spread(cpu),
    importMs: spread(imports),
    readyMs: spread(readies),
    slowestProbeMs: spread(probes),
    rssDiff: spread(rss),
    heapDiff: spread(heap),
    status,
    met: overFloorMs.median <= BOOT_GOAL_MS
  }
}

// ───────────────────────── memory after many requests (6b) ─────────────────────────

interface MemoryResult {
  requests: number
  plain: { rssBefore: number, rssAfter: number, heapBefore: number, heapAfter: number, rps: number }
  keyguard: { rssBefore: number, rssAfter: number, heapBefore: number, heapAfter: number, rps: number }
}

const MIX = [{ path: '/json' }, { path: '/gated' }, { path: '/readyz' }, { path: '/throw' }]

async function memoryAfterLoad (stub: Stub): Promise<MemoryResult> {
  stub.set('auth', { keys: [KEY] })
  const out: Partial<MemoryResult> = { requests: SETTINGS.memoryRequests }
  for (const variant of ['plain', 'keyguard'] as const) {
    const child = await Child.spawn(`memory-${variant}`, { variant, stub: stub.url, keys: 0, upstreamKey: KEY }, { FIREWORKS_API_KEY: KEY })
    try {
      await autocannon({ url: child.url, connections: SETTINGS.connections, amount: 20_000, requests: MIX })
      const before = await child.call('memory')
      const result = await autocannon({ url: child.url, connections: SETTINGS.connections, amount: SETTINGS.memoryRequests, requests: MIX, timeout: 30 })
      const after = await child.call('memory')
      out[variant] = {
        rssBefore: before.rss ?? 0,
        rssAfter: after.rss ?? 0,
        heapBefore: before.heapUsed ?? 0,
        heapAfter: after.heapUsed ?? 0,
        rps: result.requests.total / result.duration
      }
      console.log(`  memory ${variant}: ${result.requests.total} requests in ${result.duration.toFixed(1)} s`)
    } finally {
      await child.exit()
    }
  }
  return out as MemoryResult
}

// ───────────────────────── burst of runtime upstream 401s (7) ─────────────────────────

interface BurstRow {
  scenario: string
  requests: number
  statuses: Record<string, number>
  errors: number
  burstMs: number
  upstreamPeak: number
  /** Probes from the first request of the burst until its last upstream answer. */
  extraProbes: number
  /** Probes in the following LATER_MS: the failing key's own backoff rechecks. */
  laterProbes: number
  statusAfter: string
  /** null: the count includes the failing key's scheduled rechecks, so the goal is judged on the timers-off row. */
  met: boolean | null
}

/** Upstream answer delay during the burst, so the 1 000 upstream calls are really in flight together. */
const BURST_DELAY = 100
const LATER_MS = 3_000

type Scenario = 'revoked' | 'revoked-timers-off' | 'wrong-key'

async function burst (stub: Stub, scenario: Scenario): Promise<BurstRow> {
  stub.set('auth', { keys: [KEY] })
  const config: ServerConfig = { variant: 'keyguard', stub: stub.url, keys: 0, upstreamKey: scenario === 'wrong-key' ? WRONG_KEY : KEY }
  if (scenario === 'revoked-timers-off') config.probeInterval = 0
  const child = await Child.spawn(`burst-${scenario}`, config, { FIREWORKS_API_KEY: KEY })
  try {
    // revoked: the stand-in now answers 401 to every key, the probe included;
    // wrong-key: only the route's calls carry a rejected key, the probe still passes.
    stub.set('slow', { delay: BURST_DELAY, keys: scenario === 'wrong-key' ? [KEY] : [] })
    stub.peak = stub.active
    const probes = (): number => stub.requests.filter((r) => r.path.startsWith(PROBE_PATH)).length
    const before = probes()
    const started = performance.now()
    const result = await autocannon({ url: child.url + '/upstream', connections: 1000, amount: 1000, timeout: 20 })
    const settle = performance.now() + 10_000
    while (stub.active > 0 && performance.now() < settle) await new Promise((resolve) => setTimeout(resolve, 10))
    const burstMs = performance.now() - started
    const extraProbes = probes() - before
    await new Promise((resolve) => setTimeout(resolve, LATER_MS))
    const laterProbes = probes() - before - extraProbes
    const statuses: Record<string, number> = {}
    for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count
    const statusAfter = (await child.call('status')).status ?? ''
    return { scenario, requests: result.requests.total, statuses, errors: result.errors, burstMs, upstreamPeak: stub.peak, extraProbes, laterProbes, statusAfter, met: scenario === 'revoked' ? null : extraProbes <= 1 }
  } finally {
    await child.exit()
    stub.set('auth', { keys: [KEY] })
  }
}

// ───────────────────────── report ─────────────────────────

interface Results {
  date: string
  mode: 'full' | 'quick'
  command: string
  node: string
  machine: string
  commit: string
  settings: typeof SETTINGS
  durationS: number
  cpu: RatioResult[]
  boot: BootRow[]
  memory: MemoryResult | undefined
  burst: BurstRow[]
  /** With --runs: the runs folded into these tables. */
  runs?: Array<{ date: string, durationS: number, commit: string }>
}

const verdict = (met: boolean): string => met ? 'met' : '**missed**'

function table (results: Results): string {
  const lines: string[] = []
  if (results.cpu.length > 0) {
    lines.push('### Cases 1–4: server CPU time per request (primary), throughput and latency', '')
    lines.push('| # | comparison | goal | CPU/req ratio, median (min–max) | CPU µs/req, base → subject | req/s ratio, median (min–max) | p50 ms, base → subject | p99 ms, base → subject | goal |')
    lines.push('|---|---|---|---|---|---|---|---|---|')
    for (const r of results.cpu) {
      lines.push(`| ${r.case} | ${r.label} | ≤ ${f2(r.goal)}× | **${f3(r.cpu.median)}×** (${f3(r.cpu.min)}–${f3(r.cpu.max)}) | ${f2(r.base.cpuUsPerReq)} → ${f2(r.subject.cpuUsPerReq)} | ${f3(r.rps.median)}× (${f3(r.rps.min)}–${f3(r.rps.max)}) | ${r.base.p50} → ${r.subject.p50} | ${r.base.p99} → ${r.subject.p99} | ${verdict(r.met)} |`)
    }
    lines.push('')
  }
  if (results.boot.length > 0) {
    lines.push(`### Case 5: boot, spawn to listening: keyguard over the floor, plain Fastify doing the probes' network work by hand (goal ≤ ${BOOT_GOAL_MS} ms)`, '')
    lines.push('| keys | probe delay ms | stand-in | plain ms | floor: bare probes over plain ms | keyguard ms | **keyguard over the floor** ms, median (min…max) | keyguard over plain minus the delay ms | same, children\'s clocks | CPU ms over plain | of which: import keyguard ms | app.ready() (probes) ms | slowest probe measured ms | keys status | goal |')
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (const r of results.boot) {
      const note = r.keys === 5 && r.delay === 100
        ? ' (concurrency check: ≈ 100 ms, not 500)'
        : waves(r.keys) > 1 && r.delay > 0 ? ` (${waves(r.keys)} waves of ≤ ${CONCURRENCY} probes: ${waves(r.keys)} × ${r.delay} taken off)` : ''
      const goal = r.stand === 'h2' ? verdict(r.met) : 'comparison'
      lines.push(`| ${r.keys} | ${r.delay}${note} | ${STAND_LABEL[r.stand]} | ${f0(r.plainMs.median)} | ${signed(r.floorMs.median, f0)} | ${f0(r.keyguardMs.median)} | **${signed(r.overFloorMs.median, f0)}** (${signed(r.overFloorMs.min, f0)}…${signed(r.overFloorMs.max, f0)}) | ${signed(r.overheadMs.median, f0)} (${signed(r.overheadMs.min, f0)}…${signed(r.overheadMs.max, f0)}) | ${signed(r.inChildMs.median, f0)} (${signed(r.inChildMs.min, f0)}…${signed(r.inChildMs.max, f0)}) | ${signed(r.cpuMs.median, f0)} | ${f0(r.importMs.median)} | ${f0(r.readyMs.median)} | ${f0(r.slowestProbeMs.median)} | ${r.status} | ${goal} |`)
    }
    // Issue 17: keyguard's cost must not grow with the keys; 20 keys within 10 ms of 1, over the floor.
    for (const delay of [...new Set(results.boot.map((r) => r.delay))]) {
      const at = (keys: number): BootRow | undefined => results.boot.find((r) => r.keys === keys && r.delay === delay && r.stand === 'h2')
      const one = at(1)
      const twenty = at(20)
      if (one === undefined || twenty === undefined) continue
      const gap = twenty.overFloorMs.median - one.overFloorMs.median
      lines.push('', `20 keys over 1 key at probe delay ${delay} ms, over the floor: **${signed(gap, f0)} ms** (goal ≤ +10 ms: ${verdict(gap <= 10)}).`)
    }
    lines.push('')
  }
  const atListen = results.boot.filter((r) => r.delay === 0 && r.stand === 'h2')
  if (atListen.length > 0 || results.memory !== undefined) {
    lines.push('### Case 6: memory', '')
    lines.push('| measure | plain | keyguard | difference | goal |')
    lines.push('|---|---|---|---|---|')
    for (const r of atListen) {
      lines.push(`| RSS at listening, ${r.keys} key${r.keys === 1 ? '' : 's'} (difference median, min–max) | | | **${signed(r.rssDiff.median / 1048576, (n) => n.toFixed(1))} MiB** (${mib(r.rssDiff.min)}…${mib(r.rssDiff.max)}); heap ${signed(r.heapDiff.median / 1048576, (n) => n.toFixed(1))} MiB | ${r.keys > 20 ? 'no goal (the goal is set for up to 20 keys)' : `≤ +6 MiB: ${verdict(r.rssDiff.median <= 6 * 1048576)}`} |`)
    }
    const m = results.memory
    if (m !== undefined) {
      const n = m.requests.toLocaleString('en-US')
      const growth = (v: MemoryResult['plain'], a: 'rss' | 'heap'): number => a === 'rss' ? v.rssAfter - v.rssBefore : v.heapAfter - v.heapBefore
      lines.push(`| RSS after GC: after 20 000 warm-up requests → after ${n} more (mixed /json, /gated, /readyz, /throw) | ${mib(m.plain.rssBefore)} → ${mib(m.plain.rssAfter)} MiB (${signed(growth(m.plain, 'rss') / 1048576, (x) => x.toFixed(1))}) | ${mib(m.keyguard.rssBefore)} → ${mib(m.keyguard.rssAfter)} MiB (${signed(growth(m.keyguard, 'rss') / 1048576, (x) => x.toFixed(1))}) | growth ${signed((growth(m.keyguard, 'rss') - growth(m.plain, 'rss')) / 1048576, (x) => x.toFixed(1))} MiB vs plain | no growth beyond noise |`)
      lines.push(`| heap used after GC, same points | ${mib(m.plain.heapBefore)} → ${mib(m.plain.heapAfter)} MiB (${signed(growth(m.plain, 'heap') / 1048576, (x) => x.toFixed(2))}) | ${mib(m.keyguard.heapBefore)} → ${mib(m.keyguard.heapAfter)} MiB (${signed(growth(m.keyguard, 'heap') / 1048576, (x) => x.toFixed(2))}) | growth ${signed((growth(m.keyguard, 'heap') - growth(m.plain, 'heap')) / 1048576, (x) => x.toFixed(2))} MiB vs plain | no growth beyond noise |`)
    }
    lines.push('')
  }
  if (results.burst.length > 0) {
    lines.push('### Case 7: burst of 1 000 concurrent requests whose upstream call (through `keyguard.fetch`) gets 401 (goal ≤ 1 extra probe)', '')
    lines.push(`| scenario | answers | burst ms | upstream requests in flight at peak (stand-in answers after ${BURST_DELAY} ms) | extra probes during the burst (stand-in hits on the probe path) | probes in the next ${LATER_MS / 1000} s | key status after | goal |`)
    lines.push('|---|---|---|---|---|---|---|---|')
    for (const r of results.burst) {
      const what = {
        revoked: 'key revoked: the stand-in answers 401 to everything (default options: a failing key is rechecked on a 0.1–1 s, 0.1–2 s, … backoff)',
        'revoked-timers-off': 'key revoked, `probe: { interval: 0 }` (no timers, so every probe counted was set off by the burst)',
        'wrong-key': 'the route sends a rejected key; the probe still passes'
      }[r.scenario as Scenario]
      lines.push(`| ${what} | ${Object.entries(r.statuses).map(([code, count]) => `${count}× ${code}`).join(', ')}${r.errors > 0 ? `, ${r.errors} errors` : ''} | ${f0(r.burstMs)} | ${r.upstreamPeak} | **${r.extraProbes}** | ${r.laterProbes} | ${r.statusAfter} | ${r.met === null ? 'judged on the next row' : verdict(r.met)} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}

async function updateReadme (results: Results, markdown: string): Promise<void> {
  const START = '<!-- bench:results:start -->'
  const END = '<!-- bench:results:end -->'
  const block = [
    START,
    '',
    results.runs === undefined
      ? `Last ${results.mode} run: ${results.date} — \`${results.command}\`, ${results.durationS.toFixed(0)} s.`
      : `Median of ${results.runs.length} consecutive ${results.mode} runs: ${results.date} — \`${results.command}\`, ` +
        `${results.durationS.toFixed(0)} s (${results.runs.map((r) => r.durationS.toFixed(0)).join(' + ')} s). Every figure is ` +
        'the median of the runs\' figures; every (min–max) is the spread of the runs\' medians.',
    `Node ${results.node}; ${results.machine}; commit ${results.commit}.`,
    `${results.settings.rounds} interleaved rounds of ${results.settings.window} s per configuration (after ${results.settings.warmup} s warm-up), ${results.settings.connections} connections; boot: ${results.settings.bootRounds} rounds per row; memory: ${results.settings.memoryRequests.toLocaleString('en-US')} requests.`,
    '',
    markdown,
    END
  ].join('\n')
  const text = existsSync(README) ? await readFile(README, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`
  const at = text.indexOf(START)
  const end = text.indexOf(END)
  const next = at === -1 || end === -1 ? `${text}\n${block}\n` : text.slice(0, at) + block + text.slice(end + END.length)
  await writeFile(README, next)
}

// ───────────────────────── main ─────────────────────────

function compile (): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', join(HERE, 'tsconfig.bench.json'), '--outDir', BUILD], { cwd: ROOT, stdio: 'pipe' })
  } catch (err) {
    // tsc still emits on type errors (lib may be mid-change); only a missing output is fatal.
    const out = String((err as { stdout?: unknown }).stdout ?? '')
    console.warn(`bench: tsc reported ${out.split('\n').filter((line) => line.includes('error TS')).length} type error(s); running the emitted JS anyway`)
  }
  if (!existsSync(join(BUILD, 'bench', 'server.js')) || !existsSync(join(BUILD, 'index.js'))) throw new Error('bench: compiling lib and bench/server.ts produced no output')
  // Bundle index.js as `npm run build` does for dist/, so boot and memory are measured on what users import.
  const esbuild = join(ROOT, 'node_modules', 'esbuild', 'bin', 'esbuild')
  const index = join(BUILD, 'index.js')
  execFileSync(esbuild, [index, '--bundle', '--platform=node', '--format=esm', '--packages=external', '--sourcemap', '--allow-overwrite', `--outfile=${index}`, '--log-level=warning'], { cwd: ROOT, stdio: 'pipe' })
}

/**
 * --runs=N: N consecutive runs of the same cases, each a child process of its own (a fresh heap, as a run
 * alone would have) on the build compiled once here, folded into `results`: medians, and the runs' spread.
 */
async function repeat (results: Results, raw: Record<string, unknown>): Promise<void> {
  const each: Results[] = []
  const script = fileURLToPath(import.meta.url)
  const args = argv.filter((arg) => !arg.startsWith('--runs=') && !arg.startsWith('--out=') && arg !== '--keep-build')
  for (let run = 1; run <= runs; run++) {
    const file = join(RESULTS, `run-${run}-of-${runs}.json`)
    console.log(`bench: run ${run} of ${runs}`)
    execFileSync(process.execPath, [...process.execArgv, script, ...args, '--keep-build', `--out=${file}`], { cwd: ROOT, stdio: 'inherit' })
    const { samples, ...result } = JSON.parse(await readFile(file, 'utf8')) as Results & { samples: unknown }
    each.push(result)
    raw[`run${run}`] = { ...result, samples }
  }
  const merged = mergeRuns(each)
  results.cpu = merged.cpu.map((row) => ({ ...row, met: row.cpu.median <= row.goal }))
  results.boot = merged.boot.map((row) => ({ ...row, met: row.stand !== 'h2' || row.overFloorMs.median <= BOOT_GOAL_MS }))
  results.memory = merged.memory
  // A burst goal holds only if it held in every run.
  results.burst = merged.burst.map((row, i) => {
    const met = each.map((result) => result.burst[i]?.met)
    return { ...row, met: met.includes(null) ? null : met.every((m) => m === true) }
  })
  results.runs = each.map((result) => ({ date: result.date, durationS: result.durationS, commit: result.commit }))
}

function commit (): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'index.ts'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty === '' ? head : `${head} (+ uncommitted changes in lib/)`
  } catch {
    return 'unknown'
  }
}

const began = performance.now()
await mkdir(RESULTS, { recursive: true })
if (!keepBuild || !existsSync(join(BUILD, 'bench', 'server.js'))) {
  await rm(BUILD, { recursive: true, force: true })
  compile()
}
console.log(`bench: compiled lib and bench/server.ts in ${((performance.now() - began) / 1000).toFixed(1)} s; ${quick ? 'quick' : 'full'} run`)

// The stand-in keeps connections as a provider does (Node's default 5 s): at the tests' 100 ms it told the
// client `Keep-Alive: timeout=0`, and every probe connection was closed inside the boot it was measuring.
const stub = await startStub({ mode: 'auth', keys: [KEY], keepAliveTimeout: 5_000 })
// Case 5's provider speaks TLS and offers HTTP/2 and HTTP/1.1 at ALPN, as every provider's API does: on a
// cleartext stand-in, boot never paid for a handshake, and 50 keys over HTTP/1.1 take 50 of them. Its CA is
// trusted as a user trusts their own: NODE_EXTRA_CA_CERTS, given to both children.
const pki = makePki()
const tls = { key: pki.read('good.key'), cert: pki.read('good.pem') }
const stands: Record<Stand, Stub> = {
  h2: await startStub({ mode: 'auth', keys: [KEY], tls }),
  'tls-h1': await startStub({ mode: 'auth', keys: [KEY], keepAliveTimeout: 5_000, tls: { ...tls, h2: false } }),
  http: stub
}
const TLS_ENV = { NODE_EXTRA_CA_CERTS: join(pki.dir, 'ca.pem') }
const results: Results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  command: `npm run bench${quick || runs > 1 ? ' --' : ''}${quick ? ' --quick' : ''}${runs > 1 ? ` --runs=${runs}` : ''}`,
  node: process.version,
  machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${mib(totalmem())} MiB RAM, ${type()} ${release()}`,
  commit: commit(),
  settings: SETTINGS,
  durationS: 0,
  cpu: [],
  boot: [],
  memory: undefined,
  burst: []
}
const raw: Record<string, unknown> = {}
try {
  if (runs > 1) await repeat(results, raw)
  for (const spec of CPU_CASES) {
    if (!only.has(spec.id)) continue
    const { ratios, samples } = await runCpuCase(spec, stub)
    results.cpu.push(...ratios)
    raw[`case${spec.id}${spec.logger === true ? '-logger' : ''}`] = samples
  }
  if (only.has('5') || only.has('6')) {
    for (const [keys, delay, stand] of BOOT_COMBOS) {
      if (!only.has('5') && (delay !== 0 || stand !== 'h2')) continue
      const row = await boot(stands[stand], keys, delay, stand)
      results.boot.push(row)
      console.log(`  boot ${keys} key(s), delay ${delay} ms, ${STAND_LABEL[stand]}: over the floor ${f0(row.overFloorMs.median)} ms, over plain minus the delay ${f0(row.overheadMs.median)} ms`)
    }
  }
  if (only.has('6')) results.memory = await memoryAfterLoad(stub)
  if (only.has('7')) {
    for (const scenario of ['revoked', 'revoked-timers-off', 'wrong-key'] as const) results.burst.push(await burst(stub, scenario))
  }
} finally {
  await stub.close()
  await stands.h2.close()
  await stands['tls-h1'].close()
  await rm(pki.dir, { recursive: true, force: true })
  for (const child of children) await child.exit()
}
results.durationS = (performance.now() - began) / 1000

const markdown = table(results)
console.log('\n' + markdown)
const file = join(RESULTS, `bench-${results.mode}-${results.date.replace(/[:.]/g, '-')}.json`)
await writeFile(out ?? file, JSON.stringify({ ...results, samples: raw }, null, 2))
console.log(`bench: ${results.durationS.toFixed(0)} s; results in ${relative(ROOT, out ?? file)}`)
// The README keeps the last full run's tables; a quick run (and each of --runs) only writes its JSON.
if (wanted.size === 8 && !quick && !profile && !keepBuild && out === undefined) {
  await updateReadme(results, markdown)
  console.log('bench: bench/README.md updated')
}
clearTimeout(watchdog)
