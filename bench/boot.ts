// An A/B of boot cost between builds of bench/server.ts (the `build/` that `npm run bench` compiles into
// bench/results/): for each round, a plain Fastify child, then one keyguard child per build in rotating
// order, all against one TLS stand-in that offers h2 (as case 5's goal rows), no probe delay.
//   node --import tsx bench/boot.ts --keys=50 --rounds=15 before=bench/results/old after=bench/results/build
// (a build must sit under the repository, whose package.json makes its .js files ES modules); --prof=<dir>
// profiles the keyguard children into <dir> for bench/profile.ts --window.
// prints, per build, the median over rounds of the children's own clocks (process start to listening) minus
// plain Fastify's, of register → ready (the probes), and of CPU to listening over plain's; and the floor: plain
// Fastify doing the probes' network work by hand (bench/server.ts `floor`).
import { fork } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { makePki } from '../test/helpers/pki.js'
import { startStub } from '../test/helpers/stub.js'
import { median } from './runs.js'
import type { Message, ServerConfig } from './server.js'

const { values, positionals } = parseArgs({
  options: { keys: { type: 'string', default: '50' }, rounds: { type: 'string', default: '15' }, prof: { type: 'string' } },
  allowPositionals: true
})
const keys = Number(values.keys)
const rounds = Number(values.rounds)
const builds = positionals.map((arg) => {
  const [name, dir] = arg.split('=') as [string, string]
  return { name, dir: resolve(dir) }
})
if (builds.length === 0) builds.push({ name: 'current', dir: resolve('bench/results/build') })

const KEY = 'fw_' + 'Bench0Key1Valid2Abcdefgh'
const pki = makePki()
const stub = await startStub({ mode: 'auth', keys: [KEY], tls: { key: pki.read('good.key'), cert: pki.read('good.pem') } })
const env: Record<string, string> = { NODE_EXTRA_CA_CERTS: join(pki.dir, 'ca.pem') }
for (let i = 1; i <= keys; i++) env[`K${i}`] = `${KEY.slice(0, -4)}${String(i).padStart(4, '0')}`
stub.set('slow', { delay: 0, keys: Object.values(env) })

type Marks = Record<string, number>
async function run (dir: string, variant: ServerConfig['variant']): Promise<Marks> {
  const config: ServerConfig = { variant, stub: stub.url, keys, upstreamKey: KEY }
  const proc = fork(join(dir, 'bench', 'server.js'), [], {
    execArgv: values.prof === undefined || variant !== 'keyguard' ? [] : ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', values.prof],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', BENCH_SERVER: JSON.stringify(config), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const marks = await new Promise<Marks>((resolve, reject) => {
    proc.on('message', (message: Message) => { if (message.type === 'listening') resolve(message.marks) })
    proc.on('exit', (code) => reject(new Error(`${dir}: exited with ${String(code)} before listening`)))
  })
  // Beside the profile, so bench/profile.ts --window can cut it at the boot marks.
  if (values.prof !== undefined && variant === 'keyguard') {
    await mkdir(values.prof, { recursive: true })
    await writeFile(join(values.prof, `${String(proc.pid)}.marks.json`), JSON.stringify(marks))
  }
  proc.send({ id: 0, cmd: 'exit' })
  await new Promise((resolve) => proc.once('exit', resolve))
  return marks
}

const rows = new Map(builds.map((b) => [b.name, { overhead: [] as number[], ready: [] as number[], cpu: [] as number[], own: [] as number[] }]))
const floors: number[] = []
for (let round = 0; round < rounds; round++) {
  const plain = await run(builds[0]?.dir as string, 'plain')
  const floor = await run(builds[0]?.dir as string, 'floor')
  floors.push((floor.listening as number) - (plain.listening as number))
  for (let i = 0; i < builds.length; i++) {
    const build = builds[(round + i) % builds.length] as { name: string, dir: string }
    const marks = await run(build.dir, 'keyguard')
    const row = rows.get(build.name) as { overhead: number[], ready: number[], cpu: number[], own: number[] }
    row.overhead.push((marks.listening as number) - (plain.listening as number))
    row.ready.push((marks.ready as number) - (marks.registered as number))
    row.cpu.push((marks.listeningCpu as number) - (plain.listeningCpu as number))
    // CPU from Fastify loaded to ready, over plain Fastify's: no process start-up in it, less noise.
    row.own.push((marks.readyCpu as number) - (marks.fastifyLoadedCpu as number) - ((plain.readyCpu as number) - (plain.fastifyLoadedCpu as number)))
  }
}
const f = (list: number[]): string => `${median(list).toFixed(1)} (${Math.min(...list).toFixed(0)}…${Math.max(...list).toFixed(0)})`
console.log(`${keys} key(s), ${rounds} rounds: median (min…max) ms`)
console.log(`floor      over plain ${f(floors)}  (plain Fastify doing the probes' network work by hand)`)
for (const [name, row] of rows) {
  console.log(`${name.padEnd(10)} over plain ${f(row.overhead)}  ready ${f(row.ready)}  CPU over plain ${f(row.cpu)}  CPU to ready over plain ${f(row.own)}`)
}
await stub.close()
