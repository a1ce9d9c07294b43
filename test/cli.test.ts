import { readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { main } from '../lib/cli/main.js'
import { providers } from '../lib/providers/index.js'
import { startStub } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'
import { childEnv, cliBin, ensureBuilt, keyPieces, memoryIo, root, runCli, runScript } from './helpers/cli.js'
import type { Run } from './helpers/cli.js'

// Synthetic keys of the Fireworks shape (fw_ + 24 letters and digits).
const GOOD = 'fw_' + 'Tq8Zr3Lm0Xv5Kc2Hn7Wd4Bs1'
const BAD = 'fw_' + 'Yp6Gf9Jk2Nc4Rt7Ua1Ve3Qx8'
const KEYS = [GOOD, BAD]
const ANSI = /\x1b\[/ // eslint-disable-line no-control-regex
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }

/** No output of any run may hold an 8-character piece of any key. */
function noKey (t: Test, run: { stdout: string, stderr: string }): void {
  const pieces = KEYS.flatMap((key) => keyPieces(run.stdout + run.stderr, key))
  t.same(pieces, [], 'no piece of a key in the output')
}

// In-process tests call `main` from the source, for coverage; child-process tests drive the built
// binary (without coverage, see childEnv). The first run after a source edit builds dist/ first.
t.setTimeout(120_000)

let stub: Stub
t.before(async () => {
  const diagnostics = await ensureBuilt()
  if (diagnostics !== '') t.comment(`tsc reported errors outside the CLI but emitted dist/:\n${diagnostics}`)
  stub = await startStub({ keys: [GOOD] })
})
t.teardown(() => stub.close())
t.beforeEach(() => {
  stub.set('auth', { keys: [GOOD] })
  stub.hits = 0
})

/** Times and durations differ from run to run; everything else must not. */
const stable = (text: string): string => text.replace(/"checkedAt": "[^"]+"/g, '"checkedAt": "…"').replace(/"latencyMs": \d+/g, '"latencyMs": 0')

/**
 * Runs the scenario twice: through `main` in-process (for coverage) and through the real binary (which
 * runs without coverage). Both must answer alike; the stand-in's counters are reset in between.
 */
async function cli (t: Test, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const io = memoryIo(env)
  const code = await main(args, io)
  stub.hits = 0
  stub.requests.length = 0
  const run = await runCli(args, env)
  t.same({ code, stdout: stable(io.out()), stderr: stable(io.err()) }, { code: run.code, stdout: stable(run.stdout), stderr: stable(run.stderr) }, 'main() in-process answers as the binary does')
  noKey(t, run)
  return run
}

t.test('the binary: exit codes against the loopback stand-in', async (t) => {
  t.test('0: a valid key', async (t) => {
    const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_API_KEY: GOOD })
    t.equal(run.code, 0, run.stderr)
    t.equal(run.stderr, '')
    t.match(run.stdout, /^NAME\s+PROVIDER\s+STATUS\s+CAUSE\s+FINGERPRINT\n/)
    t.match(run.stdout, /\nfireworks {2}fireworks {2}pass {4}valid {2}fw_…4Bs1\n$/, 'one aligned row, nothing else for a passing key')
    t.equal(stub.hits, 1)
    t.equal(stub.lastKey(), GOOD, 'the probe carried the key')
  })

  t.test('1: a rejected key, with the message and the fix', async (t) => {
    const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_API_KEY: BAD })
    t.equal(run.code, 1)
    t.match(run.stdout, /fireworks\s+fireworks\s+fail\s+rejected by the provider\s+fw_…3Qx8/)
    t.match(run.stdout, /\nfireworks: Fireworks AI rejected FIREWORKS_API_KEY \(fw_…3Qx8, HTTP 401\): invalid, revoked or expired\.\n {2}Fix: Create a new Fireworks AI key at https:\/\/fireworks\.ai\/account\/api-keys and put it in FIREWORKS_API_KEY\.\n$/)
  })

  t.test('1: a missing key, with near-miss names', async (t) => {
    const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_KEY: GOOD })
    t.equal(run.code, 1)
    t.match(run.stdout, /fireworks\s+fireworks\s+fail\s+not set\s+-\n/)
    t.match(run.stdout, 'FIREWORKS_API_KEY is not set. Found FIREWORKS_KEY in the environment — did you mean it?')
    t.match(run.stdout, 'Fix: Set FIREWORKS_API_KEY (or FIREWORKS_API_KEY_FILE')
    t.equal(stub.hits, 0, 'nothing was sent')
  })

  t.test('2: the stand-in answers 503 (unverifiable)', async (t) => {
    stub.set('503', { retryAfter: '0' })
    const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_API_KEY: GOOD })
    t.equal(run.code, 2)
    t.match(run.stdout, /fireworks\s+fireworks\s+warn\s+could not be verified\s+fw_…4Bs1/)
    t.match(run.stdout, 'with a server error (HTTP 503)')
    t.match(run.stdout, /\n {2}Fix: The key was not judged; try again later/)
    t.equal(stub.hits, 3, 'a server error is retried twice')
  })

  t.test('2: the stand-in answers 429 (limited)', async (t) => {
    stub.set('429')
    const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_API_KEY: GOOD })
    t.equal(run.code, 2)
    t.match(run.stdout, /fireworks\s+fireworks\s+warn\s+rate-limited or out of quota\s+fw_…4Bs1/)
    t.match(run.stdout, 'rate-limited the probe')
  })

  t.test('2: a probe that outlives --timeout', async (t) => {
    stub.set('hang')
    const started = performance.now()
    const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url, '--timeout', '150'], { FIREWORKS_API_KEY: GOOD })
    t.equal(run.code, 2)
    t.match(run.stdout, 'did not finish within 150 ms')
    t.ok(performance.now() - started < 5_000, 'the per-attempt deadline is the one given')
  })

  t.test('64: bad usage, on stderr only', async (t) => {
    const run = await cli(t, ['check', '--frobnicate'], { FIREWORKS_API_KEY: GOOD })
    t.equal(run.code, 64)
    t.equal(run.stdout, '')
    t.match(run.stderr, /^keyguard: unknown option "--frobnicate"\nUsage: keyguard check \[provider…\]/)
    t.equal(stub.hits, 0)
  })
})

t.test('the binary: --json prints exactly the report', async (t) => {
  const run = await cli(t, ['check', 'fireworks', '--base-url', stub.url, '--json'], { FIREWORKS_API_KEY: GOOD })
  t.equal(run.code, 0)
  t.equal(run.stderr, '')
  const report = JSON.parse(run.stdout) as { status: string, checks: Record<string, Record<string, unknown>> }
  t.same(Object.keys(report), ['status', 'checks'])
  t.equal(report.status, 'pass')
  t.same(Object.keys(report.checks), ['fireworks'])
  t.match(report.checks.fireworks, {
    name: 'fireworks',
    provider: 'fireworks',
    env: 'FIREWORKS_API_KEY',
    status: 'pass',
    cause: 'valid',
    reason: 'ok',
    message: String,
    fix: 'None needed.',
    source: 'env',
    fingerprint: 'fw_…4Bs1',
    checkedAt: /^\d{4}-\d\d-\d\dT/,
    latencyMs: Number,
    httpStatus: 200
  })

  stub.set('auth', { keys: [] })
  const failing = await cli(t, ['check', 'fireworks', '--base-url', stub.url, '--json'], { FIREWORKS_API_KEY: GOOD })
  t.equal(failing.code, 1)
  t.match(JSON.parse(failing.stdout), { status: 'fail', checks: { fireworks: { cause: 'rejected', httpStatus: 401 } } })
})

t.test('the binary: --env reads another variable', async (t) => {
  const run = await cli(t, ['check', 'fireworks', '--env', 'MY_FIREWORKS', `--base-url=${stub.url}`, '--json'], { MY_FIREWORKS: GOOD })
  t.equal(run.code, 0, run.stdout)
  t.match(JSON.parse(run.stdout), { checks: { fireworks: { env: 'MY_FIREWORKS', cause: 'valid' } } })
})

t.test('the binary: with no provider named, checks those whose variable is set', async (t) => {
  // Both keys fail offline, so nothing is sent; the dead proxy would catch a probe that escaped anyway.
  const run = await cli(t, ['check'], {
    FIREWORKS_API_KEY: 'your-api-key',
    OPENAI_API_KEY_FILE: join(root, 'test', 'no-such-key-file'),
    GROQ_API_KEY: '',
    HTTPS_PROXY: 'http://127.0.0.1:9'
  })
  t.equal(run.code, 1)
  t.equal(run.stderr, '')
  const rows = run.stdout.split('\n\n')[0]?.split('\n').slice(1) ?? []
  t.match(rows, [/^fireworks\s+fireworks\s+fail\s+malformed\s+-$/, /^openai\s+openai\s+fail\s+not set\s+-$/])
  t.equal(rows.length, 2, 'an empty variable is not a key to check')
  t.match(run.stdout, 'FIREWORKS_API_KEY holds a placeholder')
  t.match(run.stdout, 'OPENAI_API_KEY_FILE points at')
})

t.test('the binary: nothing to check is a failure', async (t) => {
  const run = await cli(t, ['check'])
  t.equal(run.code, 1)
  t.equal(run.stdout, '')
  t.match(run.stderr, 'keyguard: no provider key is set; looked for FIREWORKS_API_KEY, OPENAI_API_KEY, ')
  for (const provider of Object.values(providers)) t.match(run.stderr, provider.env)

  const json = await cli(t, ['check', '--json'])
  t.equal(json.code, 1)
  t.same(JSON.parse(json.stdout), { status: 'fail', checks: {} })
})

t.test('the binary: with nothing set, a near-miss name is checked and named', async (t) => {
  const run = await cli(t, ['check'], { FIREWORKS_KEY: GOOD })
  t.equal(run.code, 1)
  t.match(run.stderr, 'no provider key is set')
  t.match(run.stdout, /^fireworks\s+fireworks\s+fail\s+not set/m)
  t.match(run.stdout, 'Found FIREWORKS_KEY in the environment — did you mean it?')
  t.equal(stub.hits, 0)
})

t.test('the binary: colours', async (t) => {
  const plain = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_API_KEY: GOOD, NO_COLOR: '1' })
  t.equal(plain.code, 0)
  t.notMatch(plain.stdout + plain.stderr, ANSI, 'NO_COLOR: no escape sequences')
  const forced = await cli(t, ['check', 'fireworks', '--base-url', stub.url], { FIREWORKS_API_KEY: GOOD, FORCE_COLOR: '1' })
  t.match(forced.stdout, '\x1b[32mpass')
  t.equal(forced.stdout.replace(/\x1b\[\d+m/g, ''), plain.stdout, 'colours change nothing else') // eslint-disable-line no-control-regex
})

t.test('the binary: --help and --version', async (t) => {
  const help = await cli(t, ['--help'])
  t.equal(help.code, 0)
  t.equal(help.stderr, '')
  t.match(help.stdout, /^Usage: keyguard check \[provider…\] \[--env NAME\] \[--env-file PATH\] \[--base-url URL\] \[--timeout MS\] \[--json\]\n/)
  t.match(help.stdout, /\n {2}--env-file PATH {3}also read variables from the \.env file PATH/)
  // Issue 16 #6: the help lists every provider with its variable, and every exit code with its meaning.
  for (const [id, provider] of Object.entries(providers)) t.match(help.stdout, `${id} (${provider.env})`, id)
  const exits = /Exit codes: (.*?)\nOutput/s.exec(help.stdout)?.[1]?.replace(/\s+/g, ' ')
  t.equal(exits, '0 every key passes; 1 a key fails (missing, malformed, rejected, forbidden); ' +
    '2 only warnings (rate-limited, out of quota, could not be verified); 64 usage error.')

  const ver = await cli(t, ['--version'])
  t.equal(ver.code, 0)
  t.equal(ver.stdout, `${version}\n`)
})

t.test('the binary: --env-file reads keys as the dotenv option does; a file that cannot be used exits 64', async (t) => {
  const dir = t.testdir({ 'good.env': `FIREWORKS_API_KEY=${GOOD}\n`, 'bad.env': `FIREWORKS_API_KEY="${BAD}"\n`, folder: {} })
  const args = (file: string): string[] => ['check', 'fireworks', '--base-url', stub.url, '--env-file', join(dir, file)]
  const good = await cli(t, args('good.env'))
  t.equal(good.code, 0, 'the key in the file passes')
  t.equal(stub.hits, 1)
  const bad = await cli(t, args('bad.env'))
  t.equal(bad.code, 1, 'the key in the file is rejected')
  t.match(bad.stdout, 'Fireworks AI rejected FIREWORKS_API_KEY')
  const named = join(dir, 'named.env')
  writeFileSync(named, `MY_FIREWORKS=${GOOD}\n`)
  const other = await cli(t, ['check', 'fireworks', '--env', 'MY_FIREWORKS', '--base-url', stub.url, '--env-file', named])
  t.equal(other.code, 0, 'a variable named by --env is read from the file too')
  const wins = await cli(t, args('good.env'), { FIREWORKS_API_KEY: BAD })
  t.equal(wins.code, 1, 'the environment wins over the file')

  stub.hits = 0
  // A file that cannot be used: main() exits 64 naming it. Node 20 itself also reads `--env-file` after the
  // script name (a bug of its option parser) and exits 9 first, naming the file; both tell the operator.
  for (const [file, why] of [['nope.env', /nope\.env does not exist \(resolved to .*nope\.env\)\. Fix: correct the path or create the file\n/], ['folder', /folder cannot be read \(EISDIR\)\n/]] as const) {
    const io = memoryIo({ FIREWORKS_API_KEY: GOOD })
    t.equal(await main(args(file), io), 64, `${file}: exit 64`)
    t.equal(io.out(), '')
    t.match(io.err(), new RegExp(`^keyguard: --env-file: .*${why.source}`), `${file}: named, with the cause`)
    const run = await runCli(args(file), { FIREWORKS_API_KEY: GOOD })
    if (run.code === 9) t.match(run.stderr, `node: ${join(dir, file)}: `, `${file}: Node 20's own refusal names it`)
    else t.same({ code: run.code, stderr: run.stderr }, { code: 64, stderr: io.err() }, `${file}: the binary says the same`)
    t.equal(run.stdout, '')
  }
  t.equal(stub.hits, 0, 'nothing was probed')
})

t.test('the binary: runs through a symlink, as npm installs bins', async (t) => {
  const dir = t.testdir({})
  const link = join(dir, 'keyguard')
  symlinkSync(cliBin, link)
  const run = await runScript([], link, ['--version'], childEnv())
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout, `${version}\n`)
  t.match(readFileSync(cliBin, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the bin starts with a shebang')
})

t.test('main: usage errors exit 64 with a short usage on stderr', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no command', [], /missing command: check/],
    ['unknown command', ['verify'], /unknown command "verify"; the command is check/],
    ['unknown option', ['check', '--frob=1'], /unknown option "--frob"/],
    ['unknown short option', ['check', '-x'], /unknown option "-x"/],
    ['a flag given a value', ['check', '--help=yes'], /unknown option "--help"/],
    ['unknown provider', ['check', 'nope'], /unknown provider "nope"; known providers: fireworks, openai, anthropic/],
    ['a lone dash', ['check', '-'], /unknown provider "-"/],
    ['a key given as a provider', ['check', GOOD], /unknown provider \(an argument of 27 characters\)/],
    ['a key given as an option', ['check', `--${GOOD}`], /unknown option \(an argument of 29 characters\)/],
    ['a provider named twice', ['check', 'openai', 'openai'], /a provider is named twice/],
    ['--env without a provider', ['check', '--env', 'MY_KEY'], /--env and --base-url apply to one provider/],
    ['--base-url with two providers', ['check', 'openai', 'groq', '--base-url', 'https://gw.example.com'], /apply to one provider: name exactly one/],
    ['a bad variable name', ['check', 'openai', '--env', '1KEY'], /--env must be an environment variable name/],
    ['clear-text base URL', ['check', 'openai', '--base-url', 'http://gw.example.com'], /--base-url must be an https:\/\/ URL .*; received a http: URL for host gw\.example\.com, which would send the key in clear text/],
    ['a base URL with credentials', ['check', 'openai', '--base-url', `https://u:${GOOD}@gw.example.com`], /holds credentials/],
    ['a timeout that is not a number', ['check', '--timeout', 'soon'], /--timeout must be a whole number of milliseconds from 1 to 600000/],
    ['a zero timeout', ['check', '--timeout=0'], /--timeout must be a whole number/],
    ['a timeout too long', ['check', '--timeout', '600001'], /--timeout must be a whole number/],
    ['a missing value', ['check', 'openai', '--timeout'], /--timeout needs a value/],
    ['a value given twice', ['check', '--env', 'A', '--env', 'B'], /--env is given twice/]
  ]
  for (const [title, argv, message] of cases) {
    const io = memoryIo({ FIREWORKS_API_KEY: GOOD })
    t.equal(await main(argv, io), 64, title)
    t.match(io.err(), message, title)
    t.match(io.err(), /\nUsage: keyguard check .*\nRun keyguard --help for details\.\n$/, title)
    t.equal(io.out(), '', title)
    noKey(t, { stdout: io.out(), stderr: io.err() })
  }
  t.equal(stub.hits, 0)
})

t.test('main: help wins over everything else', async (t) => {
  const io = memoryIo({})
  t.equal(await main(['-h', '--version', 'check', 'nope'], io), 0)
  t.match(io.out(), /^Usage: /)
  t.equal(io.err(), '')
})

t.test('main: colours follow the terminal, NO_COLOR, FORCE_COLOR and TERM, as Node reads them (tty hasColors)', async (t) => {
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['a colour terminal', { TERM: 'xterm-256color' }, true],
    ['a terminal of unknown kind (no TERM): Node colours it not', {}, false],
    ['NO_COLOR', { TERM: 'xterm-256color', NO_COLOR: '1' }, false],
    ['an empty NO_COLOR: set is set, as Node reads it', { TERM: 'xterm-256color', NO_COLOR: '' }, false],
    ['NODE_DISABLE_COLORS', { TERM: 'xterm-256color', NODE_DISABLE_COLORS: '1' }, false],
    ['FORCE_COLOR=0', { TERM: 'xterm-256color', FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR=false', { TERM: 'xterm-256color', FORCE_COLOR: 'false' }, false],
    ['FORCE_COLOR over NO_COLOR', { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    ['TERM=dumb', { TERM: 'dumb' }, false]
  ]
  stub.set('auth', { keys: [] })
  for (const [title, env, coloured] of cases) {
    const io = memoryIo({ FIREWORKS_API_KEY: GOOD, ...env }, { stdout: true })
    t.equal(await main(['check', 'fireworks', '--base-url', stub.url], io), 1, title)
    t.equal(ANSI.test(io.out()), coloured, title)
    if (coloured) t.match(io.out(), /\x1b\[31mfail\x1b\[39m {4}rejected/, title) // eslint-disable-line no-control-regex
  }
})

t.test('main: a progress line on a terminal stderr while probing, cleared afterwards', async (t) => {
  stub.set('slow', { delay: 300 })
  const io = memoryIo({ FIREWORKS_API_KEY: GOOD }, { stderr: true })
  t.equal(await main(['check', 'fireworks', '--base-url', stub.url], io), 0)
  t.match(io.err(), /^\r\x1b\[2K⠋ checking fireworks…\r\x1b\[2K⠙ checking fireworks…/, 'drawn and redrawn') // eslint-disable-line no-control-regex
  t.ok(io.err().endsWith('\r\x1b[2K'), 'cleared at the end')
  t.notMatch(io.out(), ANSI, 'stdout is not a terminal: no colours')

  const json = memoryIo({ FIREWORKS_API_KEY: GOOD }, { stderr: false })
  stub.set('auth')
  t.equal(await main(['check', 'fireworks', '--base-url', stub.url, '--json'], json), 0)
  t.equal(json.err(), '', 'no progress line when stderr is not a terminal')
})

t.test('main: notes of a passing key are shown, without a fix', async (t) => {
  const io = memoryIo({ FIREWORKS_API_KEY: GOOD + '\n' })
  t.equal(await main(['check', 'fireworks', '--base-url', stub.url], io), 0)
  t.match(io.out(), /fireworks\s+fireworks\s+pass\s+valid\s+fw_…4Bs1\n\nfireworks: Fireworks AI accepted FIREWORKS_API_KEY .*\n {2}Note: Removed a trailing line break from FIREWORKS_API_KEY; write secrets with printf or echo -n\.\n$/)
  t.notMatch(io.out(), 'Fix:')
  t.equal(stub.lastKey(), GOOD, 'the clean key was sent')
})
