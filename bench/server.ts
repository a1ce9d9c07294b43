// One benchmarked server, run as a child of bench/run.ts (compiled to JS first, so neither side pays
// for a TypeScript loader). Plain Fastify and the keyguard app carry the same routes; the parent
// drives load and asks over IPC for this process's CPU time and memory around each measured window.
import { createWriteStream } from 'node:fs'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'

// ms since this process started, at each step of the boot, and this process's CPU ms by then (`<step>Cpu`):
// CPU time is what a busy shared machine changes least.
const marks: Record<string, number> = {}
function mark (name: string): void {
  marks[name] = performance.now()
  const cpu = process.cpuUsage()
  marks[`${name}Cpu`] = (cpu.user + cpu.system) / 1000
}
mark('fastifyLoaded')

/** What the parent passes in `BENCH_SERVER` (JSON). */
export interface ServerConfig {
  /**
   * `floor`: plain Fastify that, at ready, does by hand the network work the keys' probes need (one TLS
   * connection to the stand-in, one HTTP/2 stream per key, each answer read), with no keyguard: the
   * physical limit of a boot that probes (case 5).
   */
  variant: 'plain' | 'keyguard' | 'floor'
  /** The stand-in provider's base URL. */
  stub: string
  /** Guarded keys: 0 = the one `fireworks` key, N > 0 = `k1`…`kN` read from `K1`…`KN`. */
  keys: number
  /** The key `/upstream` sends to the stand-in. */
  upstreamKey: string
  /** Log at `info` (Fastify's default level) into /dev/null instead of not logging at all. */
  logger?: boolean
  /** `floor`: the stand-in speaks HTTP/1.1 only (TLS or cleartext). */
  http1?: boolean
  /** keyguard's `probe.interval`; 0 turns its timers off, backoff rechecks included. */
  probeInterval?: number
}

/** Requests from the parent. */
export type Command = 'start' | 'stop' | 'memory' | 'status' | 'exit'

/** Answers to the parent. */
export type Message =
  | { type: 'listening', port: number, rss: number, heapUsed: number, probeMs: number, status: string, marks: Record<string, number> }
  | { type: 'answer', id: number, cmd: Command, cpuUs?: number, requests?: number, rss?: number, heapUsed?: number, status?: string }

const config = JSON.parse(process.env.BENCH_SERVER ?? '{}') as ServerConfig

const SMALL = { hello: 'world', id: 1, ok: true }
/** A constant body the size and shape of keyguard's readiness answer for one key. */
const READY = { status: 'pass', checks: { 'fireworks:apiKey': [{ componentId: 'fireworks', componentType: 'system', status: 'pass', time: '2025-01-01T00:00:00.000Z', observedValue: 2, observedUnit: 'ms' }] } }

/** The error openai-node throws for an upstream 401. */
function upstream401 (): Error {
  return Object.assign(new Error('401 Incorrect API key provided: fw_abcd****wxyz. You can find your API key at https://fireworks.ai/account/api-keys.'), {
    status: 401,
    headers: new Headers({ 'x-request-id': 'req_1' })
  })
}

const send = (message: Message): void => { process.send?.(message) }

/**
 * The `floor` variant's probes: what any live check of these keys must do, written with node:http2 alone.
 * One connection (its TLS handshake, trusting NODE_EXTRA_CA_CERTS as keyguard does), then every key's GET
 * of the Fireworks probe path as a stream of its own, all at once, each answer read to its end.
 */
async function bareProbes (stub: string, keys: number, http1: boolean): Promise<void> {
  const values = keys === 0 ? [process.env.FIREWORKS_API_KEY] : Array.from({ length: keys }, (_, i) => process.env[`K${i + 1}`])
  // Fireworks' probe path, written out: the floor child imports nothing of keyguard (lib/providers/fireworks.ts).
  const path = '/v1/accounts/fireworks/models?pageSize=1'
  if (http1) {
    // A stand-in without HTTP/2: a keep-alive agent, a connection per concurrent request, as keyguard's.
    const { Agent, request } = stub.startsWith('https:') ? await import('node:https') : await import('node:http')
    const agent = new Agent({ keepAlive: true })
    await Promise.all(values.map((key) => new Promise<void>((resolve, reject) => {
      request(`${stub}${path}`, { agent, headers: { authorization: `Bearer ${String(key)}` } }, (res) => {
        res.on('data', () => {}).on('end', resolve).on('error', reject)
      }).on('error', reject).end()
    })))
    agent.destroy()
    return
  }
  const { connect } = await import('node:http2')
  const session = connect(stub)
  session.on('error', () => {})
  await Promise.all(values.map((key) => new Promise<void>((resolve, reject) => {
    const stream = session.request({ ':path': path, authorization: `Bearer ${String(key)}` })
    stream.on('error', reject).on('data', () => {}).on('end', resolve)
  })))
  session.close()
}

async function build (): Promise<FastifyInstance> {
  const app = Fastify({ logger: config.logger === true ? { level: 'info', stream: createWriteStream('/dev/null') } : false })
  const gate = config.keys === 0 ? 'fireworks' : 'k1'
  if (config.variant === 'keyguard') {
    // The import alone: Fastify() above is paid by the plain app too.
    marks.importing = performance.now()
    const { default: keyguard } = await import('../index.js')
    mark('keyguardLoaded')
    const keys = config.keys === 0
      ? [{ provider: 'fireworks' as const, baseUrl: config.stub }]
      : Array.from({ length: config.keys }, (_, i) => ({ name: `k${i + 1}`, provider: 'fireworks' as const, env: `K${i + 1}`, baseUrl: config.stub }))
    await app.register(keyguard, config.probeInterval === undefined ? { keys } : { keys, probe: { interval: config.probeInterval } })
    mark('registered')
    app.get('/gated', { config: { keyguard: gate } }, async () => SMALL)
    app.get('/upstream', async (_request, reply) => {
      const res = await app.keyguard.fetch(`${config.stub}/inference/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${config.upstreamKey}`, 'content-type': 'application/json' },
        body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}'
      })
      return reply.code(res.status).header('content-type', res.headers.get('content-type') ?? 'application/json').send(await res.text())
    })
  } else {
    app.get('/gated', async () => SMALL)
    app.get('/readyz', async () => READY)
    if (config.variant === 'floor') app.addHook('onReady', () => bareProbes(config.stub, config.keys, config.http1 === true))
  }
  app.get('/json', async () => SMALL)
  app.get('/const', async () => READY)
  app.get('/throw', async () => { throw upstream401() })
  return app
}

const app = await build()
let requests = 0
app.server.on('request', () => { requests++ })
await app.ready()
mark('ready')
await app.listen({ host: '127.0.0.1', port: 0 })
mark('listening')
const address = app.server.address()
const port = typeof address === 'object' && address !== null ? address.port : 0
const memory = process.memoryUsage()
let probeMs = 0
let status = 'n/a'
if (config.variant === 'keyguard') {
  const report = app.keyguard.report()
  status = report.status
  for (const check of Object.values(report.checks)) probeMs = Math.max(probeMs, check.latencyMs ?? 0)
}
// The monotonic clock of V8's CPU profiles, so a profile can be cut at these marks (bench/profile.ts --window).
marks.monotonicOrigin = Number(process.hrtime.bigint()) / 1e6 - performance.now()
send({ type: 'listening', port, rss: memory.rss, heapUsed: memory.heapUsed, probeMs, status, marks })

let cpuStart = process.cpuUsage()
let requestsStart = 0
const gc = (globalThis as { gc?: () => void }).gc

process.on('message', (raw: { id: number, cmd: Command }) => {
  const { id, cmd } = raw
  if (cmd === 'start') {
    requestsStart = requests
    cpuStart = process.cpuUsage()
    send({ type: 'answer', id, cmd })
  } else if (cmd === 'stop') {
    const used = process.cpuUsage(cpuStart)
    send({ type: 'answer', id, cmd, cpuUs: used.user + used.system, requests: requests - requestsStart })
  } else if (cmd === 'memory') {
    gc?.()
    gc?.()
    const { rss, heapUsed } = process.memoryUsage()
    send({ type: 'answer', id, cmd, rss, heapUsed })
  } else if (cmd === 'status') {
    send({ type: 'answer', id, cmd, status: config.variant === 'keyguard' ? app.keyguard.report().status : 'n/a' })
  } else {
    app.close().finally(() => process.exit(0))
  }
})
// Never outlive the parent; BENCH_EXIT=listening ends right after listening (profiling a boot by hand).
process.on('disconnect', () => process.exit(0))
if (process.env.BENCH_EXIT === 'listening') await app.close()
