// Bytes allocated per request, plain Fastify vs the keyguard app, in one process through inject():
//   node --expose-gc --max-semi-space-size=1024 --import tsx bench/alloc.ts
// A count, not a time: it does not move with the machine's load, so it shows what keyguard adds to a
// request when the CPU ratios of `npm run bench` are swamped by neighbours. The figure is heapUsed growth
// over a batch with no collection in between (a semi-space large enough for the batch), after a warm-up,
// median of seven batches; inject() itself allocates most of it, equally on both sides.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import keyguard from '../index.js'

const KEY = 'fw_' + 'Bench0Key1Valid2Abcdefgh'
const SMALL = { hello: 'world', id: 1, ok: true }
const BATCH = 2000
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('bench/alloc: run node with --expose-gc')

async function make (guarded: boolean): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  if (guarded) await app.register(keyguard, { keys: [{ provider: 'fireworks', value: KEY }], env: {}, probe: false })
  app.get('/json', async () => SMALL)
  app.get('/gated', guarded ? { config: { keyguard: 'fireworks' } } : {}, async () => SMALL)
  await app.ready()
  return app
}

async function bytes (app: FastifyInstance, path: string): Promise<number> {
  for (let i = 0; i < 200; i++) await app.inject(path)
  gc?.()
  gc?.()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < BATCH; i++) await app.inject(path)
  return (process.memoryUsage().heapUsed - before) / BATCH
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] as number
const plain = await make(false)
const guarded = await make(true)
// Once `keyguard.fetch` or `keyguard.dispatcher` exists, every handler runs inside AsyncLocalStorage.
const watching = await make(true)
if (typeof watching.keyguard.fetch !== 'function') throw new Error('bench/alloc: no keyguard.fetch')
for (const [label, app, path] of [
  ['/json', guarded, '/json'], ['/gated', guarded, '/gated'], ['/json, watching client in use', watching, '/json']
] as const) {
  const base: number[] = []
  const subject: number[] = []
  for (let round = 0; round < 7; round++) {
    base.push(await bytes(plain, path))
    subject.push(await bytes(app, path))
  }
  const b = median(base)
  const s = median(subject)
  const difference = `${s >= b ? '+' : '−'}${Math.abs(s - b).toFixed(0)}`
  console.log(`${label}: plain ${b.toFixed(0)} B/request, keyguard ${s.toFixed(0)} B/request (${difference})`)
}
await Promise.all([plain.close(), guarded.close(), watching.close()])
