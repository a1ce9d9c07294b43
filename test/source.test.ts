import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'tap'
import type { Test } from 'tap'
import type { BootRefusedError, CheckResult } from '../index.js'
import { MAX_KEY_FILE, nearMisses, readKeyFile, readSource, showName, showPath } from '../lib/core/source.js'
import { attempt, leaks, leaksAny } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

const KEY = 'fw_' + 'A'.repeat(32)
const OTHER = 'fw_' + 'B'.repeat(32)
const CANARY = 'fw_CANARY' + 'C'.repeat(24)
const spec = { name: 'fireworks', env: 'FIREWORKS_API_KEY', words: ['FIREWORKS'] }

interface Booted { err: BootRefusedError | undefined, logs: string, report: () => { checks: Record<string, CheckResult> }, ms: number }

/** A real Fastify app with the plugin, reading `env`, probing the loopback stub. */
async function boot (t: Test, stub: Stub, env: Record<string, string | undefined>): Promise<Booted> {
  const { app, logs, err, ms } = await attempt(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env, probe: { retries: 0, interval: 0, timeout: 2000 } })
  return { err, logs: logs.text(), report: () => app.keyguard.report(), ms }
}

/** Expects a refusal before any upstream call, with no secret anywhere; returns the failing check. */
async function refused (t: Test, stub: Stub, env: Record<string, string | undefined>, cause: string, reason: string): Promise<CheckResult> {
  const before = stub.hits
  const { err, logs } = await boot(t, stub, env)
  t.equal(err?.code, 'FST_KEYGUARD_BOOT_REFUSED')
  const checked = (err as BootRefusedError).checks[0] as CheckResult
  t.equal(checked.cause, cause)
  t.equal(checked.reason, reason)
  t.match((err as BootRefusedError).message, /FIREWORKS_API_KEY/, 'the message names the variable')
  t.equal(stub.hits, before, 'no upstream call')
  const all = (err as BootRefusedError).message + JSON.stringify((err as BootRefusedError).checks) + logs
  t.notOk(leaksAny(all, [KEY, OTHER, CANARY]), 'no piece of a value in the message, the checks or the log')
  return checked
}

test('faults #1: unset, empty or whitespace-only key refuses the boot with no upstream call', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const unset = await refused(t, stub, {}, 'missing', 'unset')
  t.equal(unset.message, 'FIREWORKS_API_KEY is not set.')
  t.equal(unset.source, 'none')
  const empty = await refused(t, stub, { FIREWORKS_API_KEY: '' }, 'missing', 'empty')
  t.equal(empty.message, 'FIREWORKS_API_KEY is set but empty.')
  t.equal(empty.source, 'env')
  const blank = await refused(t, stub, { FIREWORKS_API_KEY: '   ' }, 'missing', 'blank')
  t.equal(blank.message, 'FIREWORKS_API_KEY holds only whitespace.')
  const blankHint = await refused(t, stub, { FIREWORKS_API_KEY: ' \n', FIREWORKS_KEY: CANARY }, 'missing', 'blank')
  t.equal(blankHint.message, 'FIREWORKS_API_KEY holds only whitespace. Found FIREWORKS_KEY in the environment — did you mean it?')
  t.equal(stub.hits, 0)
})

test('faults #1: near-miss variable names are offered, names only, never values', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const cases: Array<[Record<string, string>, string]> = [
    [{ fireworks_api_key: CANARY }, 'fireworks_api_key'],
    [{ FIREWORKS_KEY: CANARY }, 'FIREWORKS_KEY'],
    [{ FIREWORKS_APIKEY: CANARY }, 'FIREWORKS_APIKEY'],
    [{ FIREWORK_API_KEY: CANARY }, 'FIREWORK_API_KEY'],
    [{ '\uFEFFFIREWORKS_API_KEY': CANARY }, '"\\uFEFFFIREWORKS_API_KEY"']
  ]
  for (const [env, shown] of cases) {
    await t.test(shown, async (t) => {
      const failing = await refused(t, stub, env, 'missing', 'unset')
      t.equal(failing.message, `FIREWORKS_API_KEY is not set. Found ${shown} in the environment — did you mean it?`)
    })
  }
  const several = await refused(t, stub, { FIREWORKS_KEY: CANARY, fireworks_api_key: CANARY, FIREWORKS_API_URL: 'https://example.com' }, 'missing', 'unset')
  t.equal(several.message, 'FIREWORKS_API_KEY is not set. Found fireworks_api_key, FIREWORKS_KEY in the environment — did you mean one of them?')
  t.equal(stub.hits, 0)
})

test('faults #4: a .env saved with a BOM hides the first variable; its escaped name is offered', async (t) => {
  // node --env-file keeps the BOM in the first variable's name (faults.md #4b).
  t.same(nearMisses('FIREWORKS_API_KEY', ['FIREWORKS'], { '\uFEFFFIREWORKS_API_KEY': CANARY }), ['"\\uFEFFFIREWORKS_API_KEY"'])
  t.equal(showName('FIREWORKS_API_KEY'), 'FIREWORKS_API_KEY')
  t.equal(showName('FIREWORKS API KEY'), '"FIREWORKS API KEY"')
  t.equal(showName('FIREWORKS\u200b_API_KEY'), '"FIREWORKS\\u200B_API_KEY"', 'an invisible character in a name is shown escaped')
  t.equal(showName('FIREWORKS_API_KEY\n'), '"FIREWORKS_API_KEY\\n"')
  t.equal(showName('KEY_\u{1F511}'), '"KEY_\\uD83D\\uDD11"')
})

test('nearMisses: ranking, limits and what is not offered', async (t) => {
  const env = {
    FIREWORKS_API_KEY: '',
    FIREWORKS_API_KEY_FILE: '',
    FIREWORKS_API_KYE: 'x',
    fireworks_api_key_file: 'x',
    FIREWORKS_TOKEN: 'x',
    FIREWORKS_API_KEY2: 'x',
    FIREWORKS_API_URL: 'x',
    FIREWORKS_ACCOUNT_ID: 'x',
    PATH: '/usr/bin'
  }
  t.same(nearMisses('FIREWORKS_API_KEY', ['FIREWORKS'], env), ['fireworks_api_key_file', 'FIREWORKS_API_KEY2', 'FIREWORKS_API_KYE'])
  t.same(nearMisses('FIREWORKS_API_KEY', ['FIREWORKS'], { Fireworks_Api_Key: 'x', fireworks_api_key: 'x' }), ['fireworks_api_key', 'Fireworks_Api_Key'], 'ties in name order')
  t.same(nearMisses('FIREWORKS_API_KEY', ['FIREWORKS'], { FIREWORKS_API_URL: 'x', FIREWORKS_BASE_URL: 'x', FIREWORKS_MODEL: 'x' }), [], 'settings next to the key are no key')
  t.same(nearMisses('FIREWORKS_API_KEY', ['FIREWORKS'], { FIREWORKS_TOKEN: 'x', OPENAI_API_KEY: 'x' }), ['FIREWORKS_TOKEN'])
  t.same(nearMisses('acme_key', ['ACME', 'acme'], { acme_kye: 'x', Acme_Token: 'x', acme_url: 'x' }), ['acme_kye', 'Acme_Token'], 'a lower-case custom variable: typos and words are found in any case')
  t.same(nearMisses('HF_TOKEN', ['HUGGINGFACE', 'HF'], { HF_TOKEM: 'x', HX_TOKEX: 'x', HXX_TOKXX: 'x', HF_API_KEY: 'x' }), ['HF_TOKEM', 'HX_TOKEX'], 'short names: at most 2 edits; words under 4 letters are not used')
})

test('faults #12: both FIREWORKS_API_KEY and FIREWORKS_API_KEY_FILE set: the variable wins, with a note naming both', async (t) => {
  const dir = t.testdir({ key: OTHER + '\n' })
  const stub = await stubFor(t, { keys: [KEY] })
  const { err, report, logs } = await boot(t, stub, { FIREWORKS_API_KEY: KEY, FIREWORKS_API_KEY_FILE: join(dir, 'key') })
  t.equal(err, undefined)
  t.equal(stub.lastKey(), KEY)
  const checked = report().checks.fireworks as CheckResult
  t.equal(checked.source, 'env')
  t.same(checked.notes, ['FIREWORKS_API_KEY_FILE is also set and was ignored: FIREWORKS_API_KEY takes precedence.'])
  t.notOk(leaksAny(logs, [KEY, OTHER]), 'no piece of either value is logged')
  t.same(leaks(JSON.stringify(report()), OTHER), [])

  const empty = await readSource(spec, { FIREWORKS_API_KEY: '', FIREWORKS_API_KEY_FILE: join(dir, 'key') })
  t.match(empty, { value: OTHER + '\n', source: 'file', where: `FIREWORKS_API_KEY_FILE (${showPath(join(dir, 'key'))})`, notes: ['empty-used-file'] }, 'an empty variable gives way to the file, with a note')
  t.same(await readSource(spec, { FIREWORKS_API_KEY_FILE: '' }), { source: 'none', where: 'FIREWORKS_API_KEY', notes: [], verdict: { cause: 'missing', reason: 'unset', facts: { suggestions: [] } } }, 'an empty _FILE counts as unset')
  t.same(await readSource({ ...spec, value: KEY }, { FIREWORKS_API_KEY: OTHER }), { value: KEY, source: 'value', where: 'the value option of key "fireworks"', notes: [] }, 'the value option wins over the environment')
})

test('faults #13: _FILE path problems name the path and the errno, never a value', async (t) => {
  const dir = t.testdir({ secrets: { nested: {} }, plain: 'not a directory' })
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'))
  symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'))
  symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'))
  const stub = await stubFor(t, { keys: [KEY] })
  const file = (path: string) => ({ FIREWORKS_API_KEY_FILE: path })

  const missing = await refused(t, stub, file(join(dir, 'absent')), 'missing', 'file-missing')
  t.equal(missing.message, `FIREWORKS_API_KEY_FILE points at ${showPath(join(dir, 'absent'))}, which does not exist.`)
  t.equal(missing.source, 'file')
  const directory = await refused(t, stub, file(join(dir, 'secrets')), 'missing', 'file-directory')
  t.equal(directory.message, `FIREWORKS_API_KEY_FILE points at ${showPath(join(dir, 'secrets'))}, which is a directory.`)
  t.match(directory.fix, /Point FIREWORKS_API_KEY_FILE at the key file itself/)
  const dangling = await refused(t, stub, file(join(dir, 'dangling')), 'missing', 'file-missing')
  t.match(dangling.message, /dangling, which does not exist\./)
  const loop = await refused(t, stub, file(join(dir, 'loop-a')), 'missing', 'file-missing')
  t.match(loop.message, /loop-a, which does not exist \(symlink loop\)\./)
  const notDir = await refused(t, stub, file(join(dir, 'plain', 'key')), 'missing', 'file-missing')
  t.match(notDir.message, /plain\/key, which does not exist/)
  const rel = relative(process.cwd(), join(dir, 'absent-relative'))
  t.notOk(rel.startsWith('/'))
  const relMissing = await refused(t, stub, file(rel), 'missing', 'file-missing')
  t.equal(relMissing.message, `FIREWORKS_API_KEY_FILE points at ${showPath(resolve(rel))}, which does not exist.`, 'a relative path is shown resolved against the working directory')
  t.match(relMissing.fix, /Relative paths are resolved against the working directory/)
  const tooLong = await refused(t, stub, file(join(dir, 'x'.repeat(300))), 'missing', 'file-error')
  t.match(tooLong.message, /could not be read \(ENAMETOOLONG\)/)
  t.equal(stub.hits, 0)
})

test('faults #13: a relative _FILE path that exists is read against the working directory', async (t) => {
  const dir = t.testdir({ key: KEY + '\n' })
  const reading = await readSource(spec, { FIREWORKS_API_KEY_FILE: relative(process.cwd(), join(dir, 'key')) })
  t.same(reading, { value: KEY + '\n', source: 'file', where: `FIREWORKS_API_KEY_FILE (${showPath(join(dir, 'key'))})`, notes: [] })
})

/** A folder and every folder above it. */
function ancestors (folder: string): string[] {
  const out = [folder]
  while (dirname(out.at(-1) as string) !== out.at(-1)) out.push(dirname(out.at(-1) as string))
  return out
}

// uid 65534 must be able to reach the checkout: a clone under a mode-700 temporary folder is out of its reach.
const unreachable = ancestors(process.cwd()).find((folder) => (statSync(folder).mode & 0o001) === 0)

test('faults #13: an unreadable _FILE (EACCES) is file-denied, proven as an unprivileged child process', {
  skip: process.getuid?.() === 0 && unreachable !== undefined ? `uid 65534 cannot reach the checkout (${String(unreachable)} is not searchable by others)` : false
}, async (t) => {
  const dir = t.testdir({ locked: { key: KEY } })
  chmodSync(dir, 0o755)
  chmodSync(join(dir, 'locked'), 0o755)
  chmodSync(join(dir, 'locked', 'key'), 0o000)
  const root = process.getuid?.() === 0
  if (!root) {
    t.same(await readKeyFile(join(dir, 'locked', 'key')), { verdict: { cause: 'missing', reason: 'file-denied', facts: { path: showPath(join(dir, 'locked', 'key')), errno: 'EACCES' } } })
    return
  }
  // Root reads a mode-000 file anyway: ask as the unprivileged user "nobody" (uid 65534).
  const script = `import(${JSON.stringify(resolve('lib/core/source.ts'))}).then(async (m) => process.stdout.write(JSON.stringify(await m.readKeyFile(process.argv[1]))))`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script, join(dir, 'locked', 'key')], {
    uid: 65534, gid: 65534, cwd: process.cwd(), env: { PATH: process.env.PATH, _TAPJS_PROCESSINFO_COVERAGE_: '0' }, timeout: 20_000, encoding: 'utf8'
  })
  t.equal(child.status, 0, child.stderr)
  // The path as keyguard shows it: a checkout under a random folder (mktemp's tmp.J6TPFWbX9Q) has a part that
  // looks like a key, and it is hidden like one.
  t.same(JSON.parse(child.stdout), { verdict: { cause: 'missing', reason: 'file-denied', facts: { path: showPath(join(dir, 'locked', 'key')), errno: 'EACCES' } } })
  t.same(leaks(child.stdout, KEY), [])
})

test('faults #14: a FIFO as _FILE settles at once instead of hanging', async (t) => {
  const dir = t.testdir({})
  const fifo = join(dir, 'key.fifo')
  execFileSync('mkfifo', [fifo])
  const stub = await stubFor(t, { keys: [KEY] })
  const started = performance.now()
  const failing = await refused(t, stub, { FIREWORKS_API_KEY_FILE: fifo }, 'missing', 'file-special')
  t.ok(performance.now() - started < 2000, 'settles fast')
  t.equal(failing.message, `FIREWORKS_API_KEY_FILE points at ${showPath(fifo)}, which is not a regular file (a device, FIFO or socket); it was not read.`)
})

test('faults #14: /dev/zero and other devices are never read', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const device of ['/dev/zero', '/dev/urandom', '/dev/null']) {
    const started = performance.now()
    const failing = await refused(t, stub, { FIREWORKS_API_KEY_FILE: device }, 'missing', 'file-special')
    t.ok(performance.now() - started < 2000, `${device} settles fast`)
    t.match(failing.message, device)
  }
})

test('faults #14: an oversized _FILE is refused without being read', async (t) => {
  const dir = t.testdir({ big: 'A'.repeat(MAX_KEY_FILE + 1), edge: 'fw_' + 'A'.repeat(MAX_KEY_FILE - 3) })
  t.equal(MAX_KEY_FILE, 16 * 1024)
  const stub = await stubFor(t, { keys: [KEY] })
  const failing = await refused(t, stub, { FIREWORKS_API_KEY_FILE: join(dir, 'big') }, 'missing', 'file-too-large')
  t.equal(failing.message, `FIREWORKS_API_KEY_FILE points at ${showPath(join(dir, 'big'))}, a file of ${MAX_KEY_FILE + 1} bytes; a key file holds one key (at most ${MAX_KEY_FILE} bytes). It was not read.`)
  const edge = await readKeyFile(join(dir, 'edge'))
  t.same(edge, { text: 'fw_' + 'A'.repeat(MAX_KEY_FILE - 3) }, 'exactly the cap is read')
  const atEdge = await refused(t, stub, { FIREWORKS_API_KEY_FILE: join(dir, 'edge') }, 'malformed', 'too-long')
  t.match(atEdge.message, /FIREWORKS_API_KEY_FILE \(.*edge\) is 16384 characters long/)
})

test('faults #14: a file whose size lies (procfs: 0 at stat) is cut at the cap', async (t) => {
  const path = '/proc/self/smaps'
  t.equal(statSync(path).size, 0)
  t.ok(readFileSync(path).length > MAX_KEY_FILE, 'the real content is larger than the cap')
  t.same(await readKeyFile(path), { verdict: { cause: 'missing', reason: 'file-too-large', facts: { path, size: MAX_KEY_FILE + 1, max: MAX_KEY_FILE } } })
})

test('faults #15: _FILE content with a trailing newline (or CRLF, or a BOM) is trimmed; the stub sees the clean Bearer key', async (t) => {
  const dir = t.testdir({ lf: KEY + '\n', crlf: KEY + '\r\n', bom: '\uFEFF' + KEY + '\r\n' })
  const stub = await stubFor(t, { keys: [KEY] })
  for (const [name, notes] of [['lf', [/Removed a trailing line break/]], ['crlf', [/Removed a trailing line break/]], ['bom', [/byte-order mark/, /Removed a trailing line break/]]] as const) {
    const { err, report, logs } = await boot(t, stub, { FIREWORKS_API_KEY_FILE: join(dir, name) })
    t.equal(err, undefined, name)
    t.equal(stub.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`, name)
    t.match(report().checks.fireworks, { cause: 'valid', source: 'file', notes }, name)
    t.same(leaks(logs, KEY), [])
  }
  t.equal(stub.hits, 3)
})

test('faults #15: an empty or whitespace-only _FILE is missing, not a key', async (t) => {
  const dir = t.testdir({ empty: '', blank: ' \n\r\n' })
  const stub = await stubFor(t, { keys: [KEY] })
  for (const name of ['empty', 'blank']) {
    const failing = await refused(t, stub, { FIREWORKS_API_KEY_FILE: join(dir, name) }, 'missing', 'file-empty')
    t.equal(failing.message, `FIREWORKS_API_KEY_FILE points at ${showPath(join(dir, name))}, which is empty.`)
  }
})

test('readKeyFile: a regular file is read whole', async (t) => {
  const dir = t.testdir({})
  mkdirSync(join(dir, 'run'))
  writeFileSync(join(dir, 'run', 'key'), KEY)
  t.same(await readKeyFile(join(dir, 'run', 'key')), { text: KEY })
})

test('showPath prints an ordinary path as it is; the tests above compare through it, so a checkout under a random-looking folder (mktemp) reads the same', async (t) => {
  t.equal(showPath('/run/secrets/fireworks_api_key'), '/run/secrets/fireworks_api_key')
  t.equal(showPath('/var/run/secrets/..2026_11_29_10_00_00.123456789/key'), '/var/run/secrets/..2026_11_29_10_00_00.123456789/key')
  t.equal(showPath('/tmp/tmp.mJBy9HTmxr/key'), '/tmp/[a value that looks like a key, 14 characters]/key')
})
