import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import type { Change, Report } from '../index.js'
import { appWith, until } from './helpers/app.js'
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

test('faults #97: a failing key is rechecked with capped backoff; a passing one on the interval', async (t) => {
  const stub = await startStub({ keys: [] })
  t.teardown(() => stub.close())
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, onInvalid: 'degrade', probe: { interval: 60, jitter: 0 } }, { logger: false })
  t.teardown(() => app.close())
  await app.ready()
  const start = stub.hits
  await new Promise((resolve) => setTimeout(resolve, 400))
  const failing = stub.hits - start
  t.ok(failing >= 2 && failing <= 8, `failing key rechecked ${failing} times in 400 ms (backoff capped at the 60 ms interval, floor included)`)
  stub.set('auth', { keys: [OLD] })
  t.ok(await until(() => app.keyguard.report().status === 'pass'))
  const healthy = stub.hits
  await new Promise((resolve) => setTimeout(resolve, 300))
  const passing = stub.hits - healthy
  t.ok(passing >= 3 && passing <= 6, `passing key rechecked ${passing} times in 300 ms at a 60 ms interval`)
})

test('faults #37: Retry-After from a 429 delays the next recheck', async (t) => {
  const stub = await startStub({ mode: '429', retryAfter: '2' })
  t.teardown(() => stub.close())
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: OLD }, probe: { interval: 30 } }, { logger: false })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.keyguard.report().checks.fireworks?.cause, 'limited')
  const hits = stub.hits
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(stub.hits, hits, 'no recheck before Retry-After, although the interval is 30 ms')
})
