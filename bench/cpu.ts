// Server CPU time per request over real HTTP, plain Fastify against one or more keyguard builds, for an
// A/B of a hot-path change without the full `npm run bench`:
//   node --import tsx bench/cpu.ts [--rounds=8] [--seconds=2] [--path=/json] [--base=plain] [--fresh] [--inject]
//     [name=path/to/index.ts …]
// Each server is a child process (every one under the same TypeScript loader) that reads its own
// process.cpuUsage() around each window; the windows are interleaved, the order rotating every round,
// so a neighbour's load falls on every side alike. Prints each side's CPU µs per request ÷ the base's in
// the same round: median and min–max over the rounds. Without a name=path, the working tree's index.ts;
// `name=` (no path) is another plain Fastify, an A/A control of the method. `--inject` measures every side
// in one process through inject() instead (a child per round, batches of 1 000 interleaved): no network
// and no load generator, so a steadier figure on a busy machine, of the request path without HTTP parsing.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { median } from './runs.js'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'

const KEY = 'fw_' + 'Bench0Key1Valid2Abcdefgh'
const SMALL = { hello: 'world', id: 1, ok: true }

type Answer = { cpuUs: number, requests: number }

/** The app every side serves: plain Fastify (`module` empty), or with the keyguard build `module` exports. */
async function build (module: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  if (module !== '') {
    const { default: keyguard } = await import(module) as typeof import('../index.js')
    await app.register(keyguard, { keys: [{ provider: 'fireworks', value: KEY }], env: {}, probe: false })
  }
  app.get('/json', async () => SMALL)
  app.get('/gated', module === '' ? {} : { config: { keyguard: 'fireworks' } }, async () => SMALL)
  return app
}

if (process.env.BENCH_CPU_INJECT !== undefined) {
  // Every side in this one process: no network, no load generator, the same JIT for all.
  const { sides, round, path } = JSON.parse(process.env.BENCH_CPU_INJECT) as
    { sides: Array<{ name: string, module: string }>, round: number, path: string }
  const apps = []
  for (const side of sides) apps.push({ ...side, app: await build(side.module) })
  const batch = async (app: FastifyInstance, n: number): Promise<number> => {
    const start = process.cpuUsage()
    for (let i = 0; i < n; i++) await app.inject(path)
    const used = process.cpuUsage(start)
    return used.user + used.system
  }
  for (const { app } of apps) await batch(app, 500)
  const total: Record<string, number> = {}
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < apps.length; i++) {
      const side = apps[(i + round + pass) % apps.length] as typeof apps[number]
      total[side.name] = (total[side.name] ?? 0) + await batch(side.app, 1_000)
    }
  }
  process.send?.(Object.fromEntries(Object.entries(total).map(([name, us]) => [name, us / 3_000])))
  process.disconnect?.()
} else if (process.env.BENCH_CPU_CHILD !== undefined) {
  const app = await build(process.env.BENCH_CPU_CHILD)
  let requests = 0
  app.server.on('request', () => { requests++ })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 })
  let cpu = process.cpuUsage()
  let from = 0
  process.on('message', (cmd: string) => {
    if (cmd === 'start') {
      from = requests
      cpu = process.cpuUsage()
      process.send?.({})
    } else if (cmd === 'stop') {
      const used = process.cpuUsage(cpu)
      process.send?.({ cpuUs: used.user + used.system, requests: requests - from } satisfies Answer)
    } else {
      app.close().finally(() => process.exit(0))
    }
  })
} else {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '8' },
      seconds: { type: 'string', default: '2' },
      path: { type: 'string', default: '/json' },
      inject: { type: 'boolean', default: false },
      base: { type: 'string', default: 'plain' },
      fresh: { type: 'boolean', default: false }
    }
  })
  const builds = positionals.length > 0
    ? positionals.map((arg) => {
      // `name=` alone is a second plain Fastify: an A/A control of the method.
      const [name, path] = arg.split('=') as [string, string]
      return { name, module: path === '' ? '' : resolve(path) }
    })
    : [{ name: 'keyguard', module: resolve(import.meta.dirname, '../index.ts') }]
  const sides = [{ name: 'plain', module: '' }, ...builds]
  const report = (what: string, micros: Record<string, number[]>): void => {
    console.log(`${values.path}, ${values.rounds} rounds, ${what}:`)
    for (const side of sides) {
      console.log(`  ${side.name}: median ${median(micros[side.name] ?? []).toFixed(2)} µs/request`)
    }
    const base = values.base
    const rounds = (micros[base] ?? []).length
    for (const side of sides.filter((s) => s.name !== base)) {
      // Each round's ratio, so a load that shifts between rounds falls on both sides of it.
      const v = Array.from({ length: rounds },
        (_, i) => (micros[side.name]?.[i] as number) / (micros[base]?.[i] as number))
      const spread = `${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)}`
      console.log(`  ${side.name} ÷ ${base}: ${median(v).toFixed(3)}× (${spread})`)
    }
  }

  if (values.inject === true) {
    // Through inject(), one child process per round (inject() retains about 9.5 kB a request in this
    // Node and Fastify, plain or not: a fresh process keeps the heap, and so GC's cost, the same).
    const micros: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]))
    for (let round = 0; round < Number(values.rounds); round++) {
      const env = { ...process.env, BENCH_CPU_INJECT: JSON.stringify({ sides, round, path: values.path }) }
      const child = fork(import.meta.filename, [], { env, execArgv: ['--import', 'tsx'] })
      const per = await new Promise<Record<string, number>>((resolve) => child.once('message', resolve))
      await new Promise((resolve) => child.once('exit', resolve))
      for (const side of sides) micros[side.name]?.push(per[side.name] as number)
      console.log(`round ${round + 1}: ` + sides.map((s) => `${s.name} ${(per[s.name] as number).toFixed(2)} µs`)
        .join(', '))
    }
    report('3 × 1 000 inject() each, in a child per round', micros)
    process.exit(0)
  }

  type Child = { name: string, child: ChildProcess, url: string }
  const start = (): Promise<Child[]> => Promise.all(sides.map(async (side) => {
    const env = { ...process.env, BENCH_CPU_CHILD: side.module }
    const child = fork(import.meta.filename, [], { env, execArgv: ['--import', 'tsx'] })
    const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)))
    return { name: side.name, child, url: `http://127.0.0.1:${port}${values.path}` }
  }))
  const stop = (children: Child[]): Promise<unknown> => Promise.all(children.map(async ({ child }) => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.send('exit')
    await exited
  }))
  const ask = (child: ChildProcess, cmd: string): Promise<Answer> => new Promise((resolve) => {
    child.once('message', (answer: Answer) => resolve(answer))
    child.send(cmd)
  })
  const rates: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]))
  const window = async (side: Child, seconds: number): Promise<number> => {
    await ask(side.child, 'start')
    const result = await autocannon({ url: side.url, connections: 10, duration: seconds })
    const { cpuUs, requests } = await ask(side.child, 'stop')
    rates[side.name]?.push(result.requests.total / result.duration)
    return cpuUs / Math.max(1, requests)
  }
  // Two processes of the same code differ by a few per cent (code placement, JIT): with --fresh, every
  // round forks new ones, so that bias averages out over the rounds instead of siding with one build.
  let children = await start()
  const micros: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]))
  for (let round = 0; round < Number(values.rounds); round++) {
    if (round === 0 || values.fresh === true) {
      if (round > 0) {
        await stop(children)
        children = await start()
      }
      for (const side of children) await window(side, 1)
    }
    const order = children.map((_, i) => children[(i + round) % children.length] as Child)
    const per: Record<string, number> = {}
    for (const side of order) per[side.name] = await window(side, Number(values.seconds))
    for (const side of sides) micros[side.name]?.push(per[side.name] as number)
    console.log(`round ${round + 1}: ` + sides.map((s) => `${s.name} ${(per[s.name] as number).toFixed(2)} µs`)
      .join(', '))
  }
  const fresh = values.fresh === true ? ', new processes each round' : ''
  report(`${values.seconds} s each over HTTP, 10 connections${fresh}`, micros)
  for (const side of sides) console.log(`  ${side.name}: median ${median(rates[side.name] ?? []).toFixed(0)} req/s`)
  await stop(children)
}
