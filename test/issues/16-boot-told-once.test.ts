// Issue 16 #3 and #4: a refused boot is told once, and the notes that bear on a failing key are in its story.
// The README's quick-start snippet runs as its own process, as a user would run it: before, a refusal was told
// three times (keyguard's line, a second error line with every `checks` entry, Node's uncaught-error dump with
// a stack), and the fingerprint twice in one message.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'
import { fingerprint } from '../../index.js'
import type { BootRefusedError } from '../../index.js'
import { appWith, booted, stubFor } from '../helpers/app.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
// Synthetic keys of the Fireworks shape; neither ever worked anywhere.
const GOOD = 'fw_' + 'T0ldOnceGoodKeyNotReal0001'
const BAD = 'fw_' + 'T0ldOnceBadKeyNotReal00002'
const FP = fingerprint(BAD, ['fw_'])

/** The README's quick-start block, made runnable here: the package from this checkout, any free port. */
function quickStart (t: Test, keys?: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Quick start\n'))
  let code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
  const swap = (from: string, to: string): void => {
    t.equal(code.split(from).length, 2, `the snippet has ${from} once`)
    code = code.replace(from, to)
  }
  swap("from 'fastify-keyguard'", `from '${pathToFileURL(join(root, 'index.ts')).href}'`)
  swap('{ port: 3000 }', "{ port: 0, host: '127.0.0.1' }")
  if (keys !== undefined) swap("keys: ['fireworks']", keys)
  const file = join(t.testdir({}), 'server.ts')
  writeFileSync(file, code)
  return file
}

/** Runs a file with tsx and exactly `env` (no key of this process); resolves to its exit code and output. */
function run (file: string, env: Record<string, string>): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })))
}

/** The human text of the output: each JSON log line's `msg`, and every other line as it is. */
function human (out: string): string {
  return out.split('\n').map((line) => {
    try {
      return String((JSON.parse(line) as { msg?: unknown }).msg ?? '')
    } catch {
      return line
    }
  }).join('\n')
}

const count = (text: string, part: string): number => text.split(part).length - 1

function toldOnce (t: Test, result: { code: number | null, out: string }, story: string): void {
  t.equal(result.code, 1, 'exits 1')
  t.equal(count(result.out, story), 1, `"${story}" is told once in stdout and stderr`)
  t.equal(result.out.split('\n').filter((line) => line.includes('"level":50')).length, 1, 'one error line')
  t.notMatch(result.out, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace')
  t.notMatch(result.out, /triggerUncaughtException|FastifyError|"checks"/, 'no uncaught-error dump, no checks dump')
  t.notMatch(result.out, /listening/i, 'never listened')
}

t.test('the README snippet, FIREWORKS_API_KEY not set: exit 1, the story told once, no stack', async (t) => {
  const result = await run(quickStart(t), { FIREWORKS_KEY: GOOD })
  toldOnce(t, result, 'FIREWORKS_API_KEY is not set')
  t.match(human(result.out), 'Found FIREWORKS_KEY in the environment — did you mean it?')
  t.notMatch(result.out, GOOD.slice(3, 11), 'no piece of the key')
})

t.test('the README snippet, a revoked key: exit 1, the story and the fingerprint told once', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const file = quickStart(t, "keys: [{ provider: 'fireworks', baseUrl: process.env.STANDIN }]")
  const result = await run(file, { STANDIN: stub.url, FIREWORKS_API_KEY: BAD })
  toldOnce(t, result, 'Fireworks AI rejected FIREWORKS_API_KEY')
  t.equal(count(human(result.out), FP), 1, `the fingerprint ${FP} once in the text people read`)
  t.equal(result.out.split('\n').filter((line) => line.includes(FP)).length, 1, 'and on one line')
  t.equal(stub.hits, 1, 'one probe')
  t.notMatch(result.out, BAD.slice(3, 11), 'no piece of the key')
})

t.test('the boot error names the fingerprint once, and a key without one gets none', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }, 'openai'], env: { FIREWORKS_API_KEY: BAD } })
  t.teardown(() => app.close())
  const err = await app.ready().then(() => undefined, (e: BootRefusedError) => e)
  t.equal(count(err?.message ?? '', FP), 1, 'fingerprint once')
  t.match(err?.message, /\n {2}- \[openai\] missing: OPENAI_API_KEY is not set/)
  t.same(Object.keys(err ?? {}).includes('checks'), false, 'checks is not enumerable')
  t.equal(err?.checks.length, 2, 'but is there')
})

t.test('a refusal whose message has no fingerprint gets it once, beside the cause', async (t) => {
  const stub = await stubFor(t, { mode: '503' })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD }, onUnreachable: 'refuse', probe: { retries: 0 } })
  t.teardown(() => app.close())
  const err = await app.ready().then(() => undefined, (e: BootRefusedError) => e)
  t.notMatch(err?.checks[0]?.message, FP, 'the message does not name it')
  t.match(err?.message, `- [fireworks] unreachable (${FP}): `)
  t.equal(count(err?.message ?? '', FP), 1)
})

t.test('notes that bear on a failing key are in its message, its log line and the boot error', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const file = join(t.testdir({ key: GOOD }), 'key')
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD, FIREWORKS_API_KEY_FILE: file } })
  t.teardown(() => app.close())
  const err = await app.ready().then(() => undefined, (e: BootRefusedError) => e)
  const note = 'FIREWORKS_API_KEY_FILE is also set and was ignored: FIREWORKS_API_KEY takes precedence.'
  t.match(err?.checks[0], { cause: 'rejected', notes: [note] })
  t.match(err?.checks[0]?.message, `Note: ${note}`, 'in the check\'s message')
  t.equal(count(err?.message ?? '', note), 1, 'in the boot error, once')
  const line = logs.records().find((r) => r.level === 50)
  t.equal(count(String(line?.msg), note), 1, 'in the error line, once')
})

t.test('a passing key\'s notes are in its log line, not in its message', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app, logs } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD + '\n' }, probe: { interval: 0 } })
  const check = app.keyguard.report().checks.fireworks
  t.match(check, { cause: 'valid', notes: [/Removed a trailing line break from FIREWORKS_API_KEY/] })
  t.notMatch(check?.message, 'Note:', 'a passing key\'s message is its verdict only')
  const line = logs.records().find((r) => r.level === 40)
  t.match(line?.msg, /^fastify-keyguard: Fireworks AI accepted FIREWORKS_API_KEY .* Note: Removed a trailing line break/)
})
