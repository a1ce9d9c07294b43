// Server CPU time per request over real HTTP, plain Fastify against one or more keyguard builds, for an
// A/B of a hot-path change without the full `npm run bench`:
//   node --import tsx bench/cpu.ts [--rounds=8] [--seconds=2] [--path=/json] [name=path/to/index.ts …]
// Each server is a child process (every one under the same TypeScript loader) that reads its own
// process.cpuUsage() around each window; the windows are interleaved, the order rotating every round,
// so a neighbour's load falls on every side alike. Prints each build's CPU µs per request ÷ plain's in
// the same round: median and min–max over the rounds. Without a name=path, the working tree's index.ts;
// `name=` (no path) is another plain Fastify, an A/A control of the method.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import Fastify from 'fastify'

const KEY = 'fw_' + 'Bench0Key1Valid2Abcdefgh'
const SMALL = { hello: 'world', id: 1, ok: true }

type Answer = { cpuUs: number, requests: number }

if (process.env.BENCH_CPU_CHILD !== undefined) {
  const module = process.env.BENCH_CPU_CHILD
  const app = Fastify({ logger: false })
  if (module !== '') {
    const { default: keyguard } = await import(module) as typeof import('../index.js')
    await app.register(keyguard, { keys: [{ provider: 'fireworks', value: KEY }], env: {}, probe: false })
  }
  app.get('/json', async () => SMALL)
  app.get('/gated', module === '' ? {} : { config: { keyguard: 'fireworks' } }, async () => SMALL)
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
    options: { rounds: { type: 'string', default: '8' }, seconds: { type: 'string', default: '2' }, path: { type: 'string', default: '/json' } }
  })
  const builds = positionals.length > 0
    ? positionals.map((arg) => {
      // `name=` alone is a second plain Fastify: an A/A control of the method.
      const [name, path] = arg.split('=') as [string, string]
      return { name, module: path === '' ? '' : resolve(path) }
    })
    : [{ name: 'keyguard', module: resolve(import.meta.dirname, '../index.ts') }]
  const sides = [{ name: 'plain', module: '' }, ...builds]

  const children = await Promise.all(sides.map(async (side) => {
    const child = fork(import.meta.filename, [], { env: { ...process.env, BENCH_CPU_CHILD: side.module }, execArgv: ['--import', 'tsx'] })
    const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)))
    return { ...side, child, url: `http://127.0.0.1:${port}${values.path}` }
  }))
  const ask = (child: ChildProcess, cmd: string): Promise<Answer> => new Promise((resolve) => {
    child.once('message', (answer: Answer) => resolve(answer))
    child.send(cmd)
  })
  const window = async (side: typeof children[number], seconds: number): Promise<number> => {
    await ask(side.child, 'start')
    await autocannon({ url: side.url, connections: 10, duration: seconds })
    const { cpuUs, requests } = await ask(side.child, 'stop')
    return cpuUs / Math.max(1, requests)
  }
  for (const side of children) await window(side, 1)
  const ratios: Record<string, number[]> = Object.fromEntries(builds.map((b) => [b.name, []]))
  const micros: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]))
  for (let round = 0; round < Number(values.rounds); round++) {
    const order = children.map((_, i) => children[(i + round) % children.length] as typeof children[number])
    const per: Record<string, number> = {}
    for (const side of order) per[side.name] = await window(side, Number(values.seconds))
    for (const side of sides) micros[side.name]?.push(per[side.name] as number)
    for (const build of builds) ratios[build.name]?.push((per[build.name] as number) / (per.plain as number))
    console.log(`round ${round + 1}: ` + sides.map((s) => `${s.name} ${(per[s.name] as number).toFixed(2)} µs`).join(', '))
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1] as number
  console.log(`${values.path}, ${values.rounds} rounds of ${values.seconds} s, 10 connections:`)
  for (const side of sides) console.log(`  ${side.name}: median ${median(micros[side.name] ?? []).toFixed(2)} µs/request`)
  for (const [name, v] of Object.entries(ratios)) {
    console.log(`  ${name} ÷ plain: ${median(v).toFixed(3)}× (${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)})`)
  }
  await Promise.all(children.map(async ({ child }) => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.send('exit')
    await exited
  }))
}
