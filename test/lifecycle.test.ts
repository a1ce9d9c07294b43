import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import type { Change } from '../index.js'
import { appWith, booted, until } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'

const KEY = 'fw_' + 'E'.repeat(32)

/** The environment of a fixture child: no coverage collection (tsx children report false coverage), no proxy. */
function childEnv (): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', NO_PROXY: '127.0.0.1,localhost', _TAPJS_PROCESSINFO_COVERAGE_: '0' }
}

function run (fixture: string, onLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null, stdout: string, stderr: string, ms: number }> {
  const file = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url))
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    for (const line of chunk.toString().split('\n')) if (line !== '') onLine?.(line, child)
  })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  return new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(killer)
    resolve({ code, stdout, stderr, ms: performance.now() - started })
  }))
}

test('faults #82 #83: close() during a hanging probe returns at once and the process exits by itself', async (t) => {
  const result = await run('close-during-probe.ts')
  t.equal(result.code, 0, result.stderr)
  const report = JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as { took: number, status: string }
  t.ok(report.took < 200, `close() took ${Math.round(report.took)} ms`)
  t.equal(report.status, 'pass', 'the aborted recheck changed nothing')
  t.notMatch(result.stderr, /Unhandled|Error/, 'no rejection escaped')
})

test('faults #84: SIGTERM while the boot probe hangs: the boot deadline bounds the shutdown and the process exits by itself', async (t) => {
  let signalled = 0
  const result = await run('close-during-boot.ts', (line, child) => {
    if (line === 'ready') setTimeout(() => { signalled = performance.now(); child.kill('SIGTERM') }, 200)
  })
  t.equal(result.code, 0, result.stderr)
  const after = performance.now() - signalled
  t.ok(after < 3000, `exited ${Math.round(after)} ms after SIGTERM (pluginTimeout 2000 ms)`)
  t.notMatch(result.stderr, /Unhandled|Error/, 'no unhandled rejection, no crash stack')
})

test('faults #82: after close() no keyguard timer or socket is left and no further probe happens', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const baseline = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, probe: { interval: 20, jitter: 0 } }, { logger: false })
  await app.ready()
  await app.keyguard.fetch(`${stub.url}/v1/models`).then((res) => res.text())
  t.ok(await until(() => stub.hits >= 4), 'rechecks run on the timer')
  await app.close()
  const hits = stub.hits
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(stub.hits, hits, 'no probe after close')
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, baseline, 'no timer left')
})

test('a recheck that finishes after close changes nothing and fires no event', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const changes: Change[] = []
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, probe: { interval: 0 }, onChange: (_r, change) => changes.push(change) })
  await app.ready()
  stub.set('slow', { delay: 100, keys: [] })
  const pending = app.keyguard.recheck()
  await until(() => stub.hits === 2)
  await app.close()
  const report = await pending
  t.equal(report.status, 'pass')
  t.equal(changes.length, 1, 'only the boot transition')
  const after = await app.keyguard.recheck()
  t.equal(after.status, 'pass', 'recheck after close answers from the last state')
  t.equal(stub.hits, 2, 'without probing')
  app.keyguard.recheck('fireworks').catch(() => {})
})

test('faults #92: two apps in one process are independent; closing one leaves the other probing', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const a = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, probe: { interval: 0 } }, { logger: false })
  const b = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, probe: { interval: 20, jitter: 0 } }, { logger: false })
  t.teardown(() => b.app.close())
  await a.app.ready()
  await b.app.ready()
  await a.app.close()
  const hits = stub.hits
  t.ok(await until(() => stub.hits >= hits + 2), 'B keeps rechecking')
  t.equal((await b.app.inject('/readyz')).statusCode, 200)
})

test('faults #90: a rejection inside the background loop never escapes', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  // The .env file reads at boot; then it becomes a directory, so the next background recheck rejects
  // inside the check itself (env-schema throws EISDIR), with no caller awaiting it.
  const dir = t.testdir({ '.env': `FIREWORKS_API_KEY=${KEY}\n` })
  const dotenv = join(dir, '.env')
  const { app, logs } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: {}, probe: { interval: 50, jitter: 0 }, dotenv })
  t.equal(app.keyguard.report().checks.fireworks?.cause, 'valid', 'the boot read the .env file')
  rmSync(dotenv)
  mkdirSync(dotenv)
  const failed = (): Array<Record<string, unknown>> => logs.records().filter((r) => r.msg === 'fastify-keyguard: checking a key failed unexpectedly')
  t.ok(await until(() => failed().length > 0 || unhandled.length > 0), 'a background recheck rejected')
  t.same(unhandled.map(String), [], 'no unhandled rejection')
  t.match(failed()[0], { level: 50, err: { code: 'EISDIR' } }, 'the rejection was caught and logged')
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', reason: 'internal' }, 'and turned into a verdict')
})
