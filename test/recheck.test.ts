import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import type { Test } from 'tap'
import type { Change, Report } from '../index.js'
import { Guard } from '../lib/core/guard.js'
import { silentLogger } from '../lib/core/log.js'
import type { Logger } from '../lib/core/log.js'
import { resolveOptions } from '../lib/core/options.js'
import { retryAfterValue } from '../lib/core/retry-after.js'
import { appWith, until } from './helpers/app.js'
import { FakeClock } from './helpers/clock.js'
import { startStub } from './helpers/stub.js'

const OLD = 'fw_' + 'O'.repeat(32)
const NEW = 'fw_' + 'P'.repeat(32)

test('faults #48: the stand-in turning 401 → 200 and recheck() returns /readyz to 200; 200 → 401 flips it', async (t) => {
  const stub = await startStub({ keys: [] })
  t.teardown(() => stub.close())
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  t.equal((await app.inject('/readyz')).statusCode, 503)
  stub.set('auth', { keys: [OLD] })
  const report = await app.keyguard.recheck()
  t.equal(report.status, 'pass', 'recheck resolves to the new report')
  t.equal((await app.inject('/readyz')).statusCode, 200)
  stub.set('auth', { keys: [] })
  await app.keyguard.recheck('fireworks')
  t.equal((await app.inject('/readyz')).statusCode, 503)
})

test('the recheck timer heals a degraded key and flips a revoked one', async (t) => {
  const stub = await startStub({ keys: [] })
  t.teardown(() => stub.close())
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, onInvalid: 'degrade', probe: { interval: 40, jitter: 0.5 } })
  t.teardown(() => app.close())
  await app.ready()
  t.equal((await app.inject('/readyz')).statusCode, 503)
  stub.set('auth', { keys: [OLD] })
  t.ok(await until(async () => (await app.inject('/readyz')).statusCode === 200), 'healed by the timer')
  stub.set('auth', { keys: [] })
  t.ok(await until(async () => (await app.inject('/readyz')).statusCode === 503), 'revoked by the timer')
})

test('a changed env object heals without a restart', async (t) => {
  const stub = await startStub({ keys: [NEW] })
  t.teardown(() => stub.close())
  const env: Record<string, string> = { FIREWORKS_API_KEY: OLD }
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.keyguard.report().checks.fireworks?.fingerprint, 'fw_…OOOO')
  env.FIREWORKS_API_KEY = NEW
  await app.keyguard.recheck()
  t.match(app.keyguard.report().checks.fireworks, { cause: 'valid', fingerprint: 'fw_…PPPP' })
  t.equal(app.keyguard.key(), NEW)
  t.equal(stub.lastKey(), NEW)
})

/** A Kubernetes-style secret volume: `key -> ..data/key`, `..data -> ..<version>`, swapped atomically. */
async function secretVolume (t: { teardown: (fn: () => unknown) => void }, value: string): Promise<{ file: string, rotate: (next: string) => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'keyguard-secret-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  let version = 0
  const write = async (next: string): Promise<string> => {
    const name = `..2026_11_26_00_00_0${version++}`
    await mkdir(join(dir, name))
    await writeFile(join(dir, name, 'FIREWORKS_API_KEY'), next + '\n')
    return name
  }
  await symlink(await write(value), join(dir, '..data'))
  await symlink(join('..data', 'FIREWORKS_API_KEY'), join(dir, 'FIREWORKS_API_KEY'))
  return {
    file: join(dir, 'FIREWORKS_API_KEY'),
    rotate: async (next) => {
      const name = await write(next)
      await symlink(name, join(dir, '..data_tmp'))
      await rename(join(dir, '..data_tmp'), join(dir, '..data'))
    }
  }
}

test('faults #88: a _FILE rotated by the ..data symlink swap heals, twice', async (t) => {
  const stub = await startStub({ keys: [NEW] })
  t.teardown(() => stub.close())
  const volume = await secretVolume(t, OLD)
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY_FILE: volume.file }, onInvalid: 'degrade', probe: { interval: 0 } })
  t.teardown(() => app.close())
  await app.ready()
  t.match(app.keyguard.report().checks.fireworks, { cause: 'rejected', source: 'file' })
  t.match(app.keyguard.report().checks.fireworks?.fix, /and put it in the file FIREWORKS_API_KEY_FILE \(\//, 'the fix points at the file the key came from')
  await volume.rotate(NEW)
  await app.keyguard.recheck()
  t.match(app.keyguard.report().checks.fireworks, { cause: 'valid', fingerprint: 'fw_…PPPP' })
  t.equal((await app.inject('/readyz')).statusCode, 200)
  const third = 'fw_' + 'R'.repeat(32)
  stub.set('auth', { keys: [third] })
  await volume.rotate(third)
  await app.keyguard.recheck()
  t.match(app.keyguard.report().checks.fireworks, { cause: 'valid', fingerprint: 'fw_…RRRR' })
  t.equal(stub.lastKey(), third)
})

test('faults #89: a half-written file during a non-atomic rotation does not flip a good key bad', async (t) => {
  const stub = await startStub({ keys: [OLD, NEW] })
  t.teardown(() => stub.close())
  const dir = await mkdtemp(join(tmpdir(), 'keyguard-file-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'key')
  await writeFile(file, OLD)
  const changes: Change[] = []
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY_FILE: file }, probe: { interval: 0 }, onChange: (_report, change) => changes.push(change) })
  t.teardown(() => app.close())
  await app.ready()
  await writeFile(file, '')
  const recheck = app.keyguard.recheck()
  setTimeout(() => { writeFile(file, NEW).catch(() => {}) }, 50)
  await recheck
  t.match(app.keyguard.report().checks.fireworks, { cause: 'valid', fingerprint: 'fw_…PPPP' })
  t.same(changes.map((c) => c.current.status), ['pass', 'pass'], 'never reported as failing')
  await writeFile(file, '   ')
  await app.keyguard.recheck()
  t.match(app.keyguard.report().checks.fireworks, { cause: 'missing', reason: 'file-empty' }, 'a source that stays broken is reported after the retries')
})

test('onChange fires once per transition, and each transition is logged once', async (t) => {
  const stub = await startStub({ keys: [OLD] })
  t.teardown(() => stub.close())
  const seen: Array<[Report['status'], string, string]> = []
  const { app, logs } = await appWith({
    keys: [{ provider: 'fireworks', baseUrl: stub.url }],
    env: { FIREWORKS_API_KEY: OLD },
    onInvalid: 'degrade',
    probe: { interval: 0 },
    onChange: (report, change) => seen.push([report.status, change.previous.cause, change.current.cause])
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.keyguard.recheck()
  await app.keyguard.recheck()
  stub.set('auth', { keys: [] })
  await app.keyguard.recheck()
  await app.keyguard.recheck()
  stub.set('503')
  await app.keyguard.recheck()
  stub.set('auth', { keys: [OLD] })
  await app.keyguard.recheck()
  t.same(seen, [['pass', 'pending', 'valid'], ['fail', 'valid', 'rejected'], ['warn', 'rejected', 'unreachable'], ['pass', 'unreachable', 'valid']])
  const transitions = logs.records().filter((r) => r.keyguard !== undefined && (r.keyguard as { from?: string }).from !== undefined)
  t.equal(transitions.length, 4, 'one log line per transition, not per probe')
  t.same(transitions.map((r) => r.level), [30, 50, 40, 30], 'at the level of the cause')
  t.equal(stub.hits, 7 + 2, 'seven checks, the 503 one retried twice')
})

test('an onChange that throws is logged and changes nothing', async (t) => {
  const stub = await startStub({ keys: [OLD] })
  t.teardown(() => stub.close())
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, onChange: () => { throw new Error('metrics down') } })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.keyguard.report().status, 'pass')
  t.ok(logs.records().some((r) => r.msg === 'fastify-keyguard: the onChange callback threw or rejected' && (r.err as { message?: string }).message === 'metrics down'))
})

test('faults #91 #95: rechecks are singleflight', async (t) => {
  const stub = await startStub({ mode: 'slow', delay: 100, keys: [OLD] })
  t.teardown(() => stub.close())
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, probe: { interval: 0 } })
  t.teardown(() => app.close())
  await app.ready()
  const before = stub.hits
  const reports = await Promise.all(Array.from({ length: 20 }, () => app.keyguard.recheck()))
  t.equal(stub.hits - before, 1, 'twenty callers, one probe')
  t.equal(stub.peak, 1, 'never two probes of one key at once')
  t.ok(reports.every((r) => r.status === 'pass'))
})

// Timing on the injected fake clock: the delays are exact and nothing sleeps. The real timers are
// proven wired by 'the recheck timer heals a degraded key and flips a revoked one' above.
const ALMOST_ONE = 1 - Number.EPSILON

/** A guard over a loopback stand-in, with a fake clock and a fixed jitter. */
async function guarded (
  t: Test, options: Record<string, unknown>, stub: { url: string }, random = () => ALMOST_ONE, log: Logger = silentLogger
) {
  const clock = new FakeClock()
  const resolved = resolveOptions({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, ...options }, {})
  const guard = new Guard(resolved, log, { clock, random })
  t.teardown(() => guard.close())
  await guard.start(Infinity)
  return { clock, guard }
}

/** Fires the next timer of the guard and waits for the check it started. */
async function tick (clock: FakeClock, guard: Guard): Promise<number> {
  const moved = clock.next() as number
  await guard.recheck('fireworks')
  return Math.round(moved)
}

test('faults #97 on the fake clock: a failing key backs off (capped at the interval), a passing one keeps the interval', async (t) => {
  const stub = await startStub({ keys: [] })
  t.teardown(() => stub.close())
  const { clock, guard } = await guarded(t, { onInvalid: 'degrade', probe: { interval: 60_000, jitter: 0 } }, stub)
  t.equal(guard.report().checks.fireworks?.cause, 'rejected')
  const failing: number[] = []
  for (let i = 0; i < 8; i++) failing.push(await tick(clock, guard))
  t.same(failing, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000], 'doubling, capped at the 60 s interval')
  t.equal(stub.hits, 9, 'one probe per timer, none more')
  stub.set('auth', { keys: [OLD] })
  await tick(clock, guard)
  t.equal(guard.report().status, 'pass')
  t.same([await tick(clock, guard), await tick(clock, guard)], [60_000, 60_000], 'passing: the interval')
  t.equal(guard.nextCheck(['fireworks']), 60_000)
  t.equal(retryAfterValue(guard.nextCheck(['fireworks'])), 60)
  guard.close()
  t.same(clock.pending(), [], 'close() clears the timer')
  t.equal(guard.nextCheck(['fireworks']), undefined)
})

test('faults #37 on the fake clock: a 429\'s Retry-After delays the next recheck past a shorter interval', async (t) => {
  const stub = await startStub({ mode: '429', retryAfter: '120' })
  t.teardown(() => stub.close())
  const { clock, guard } = await guarded(t, { probe: { interval: 30, jitter: 0, retries: 0 } }, stub)
  t.equal(guard.report().checks.fireworks?.cause, 'limited')
  t.same(clock.pending(), [120_000], 'the next check waits for Retry-After, not the 30 ms interval')
  t.equal(retryAfterValue(guard.nextCheck(['fireworks'])), 120, 'and a gated route says so')
  const hits = stub.hits
  clock.advance(119_999)
  t.equal(stub.hits, hits, 'no recheck before it')
  stub.set('429', { retryAfter: '999999' })
  t.equal(await tick(clock, guard), 1)
  t.same(clock.pending(), [300_000], 'a longer one is honoured up to the one cap (300 s)')
  t.equal(retryAfterValue(guard.nextCheck(['fireworks'])), 300)
})

test('suspicion is rate-limited on the injected clock: one recheck per key per SUSPECT_GAP', async (t) => {
  const stub = await startStub({ keys: [OLD] })
  t.teardown(() => stub.close())
  const warned: string[] = []
  const log = { ...silentLogger, warn: (_obj: object, msg: string) => { warned.push(msg) } }
  const { clock, guard } = await guarded(t, { probe: { interval: 0 } }, stub, () => ALMOST_ONE, log)
  const rechecks = (): number => warned.filter((msg) => msg.endsWith('at runtime; rechecking it')).length
  const hits = stub.hits
  guard.suspect('fireworks')
  t.equal(rechecks(), 1, 'the first suspicion rechecks')
  await guard.recheck('fireworks')
  t.equal(stub.hits, hits + 1, 'with one probe')
  guard.suspect('fireworks')
  clock.advance(4_999)
  guard.suspect('fireworks')
  t.equal(rechecks(), 1, 'none within 5 s')
  await guard.recheck('fireworks')
  t.equal(stub.hits, hits + 2, 'only the explicit recheck probed')
  clock.advance(1)
  guard.suspect('fireworks')
  t.equal(rechecks(), 2, 'the next one 5 s later')
  await guard.recheck('fireworks')
  t.equal(stub.hits, hits + 3, 'joined by recheck(): one probe')
})
