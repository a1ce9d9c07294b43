import { test } from 'tap'
import type { Test } from 'tap'
import type { BootRefusedError, ProviderSpec } from '../index.js'
import { inspect, KEY_LENGTH, nameOf } from '../lib/core/inspect.js'
import { foreignPrefixes, providers } from '../lib/providers/index.js'
import { attempt, leaks } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

const KEY = 'fw_' + 'A'.repeat(32)
const ALL: readonly ProviderSpec[] = Object.values(providers)
const fireworks = providers.fireworks
const check = (value: string) => inspect(value, fireworks, ALL, foreignPrefixes)

interface Booted { err: BootRefusedError | undefined, logs: string, report: () => unknown }

/** A real Fastify app with the plugin, reading `env`, probing the loopback stub. */
async function boot (t: Test, stub: Stub, env: Record<string, string | undefined>): Promise<Booted> {
  const { app, logs, err } = await attempt(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env, probe: { retries: 0, interval: 0, timeout: 2000 } })
  return { err, logs: logs.text(), report: () => app.keyguard.report() }
}

/** Boots with `FIREWORKS_API_KEY=value`, expects a refusal before any upstream call, and returns the failing check. */
async function refused (t: Test, stub: Stub, value: string, cause: string, reason: string) {
  const before = stub.hits
  const { err, logs } = await boot(t, stub, { FIREWORKS_API_KEY: value })
  t.equal(err?.code, 'FST_KEYGUARD_BOOT_REFUSED')
  const checked = (err as BootRefusedError).checks[0]
  t.equal(checked?.cause, cause)
  t.equal(checked?.reason, reason)
  t.match((err as BootRefusedError).message, /FIREWORKS_API_KEY/, 'the message names the variable')
  t.equal(stub.hits, before, 'no upstream call')
  t.equal(checked?.fingerprint, undefined, 'no fingerprint of a value that was never accepted')
  const all = (err as BootRefusedError).message + JSON.stringify((err as BootRefusedError).checks) + logs
  if (value.trim().length >= 8 && value.toUpperCase() !== 'FIREWORKS_API_KEY') t.notOk(all.includes(value.trim()), 'the value appears in no message, check or log line')
  return checked as NonNullable<typeof checked>
}

test('faults #2: trailing newline is trimmed with a note and the stub sees the clean Bearer key', async (t) => {
  t.same(check(KEY + '\n'), { ok: true, key: KEY, notes: ['newline'] })
  t.same(check(KEY + '\n\n'), { ok: true, key: KEY, notes: ['newline'] })
  const stub = await stubFor(t, { keys: [KEY] })
  const { err, logs, report } = await boot(t, stub, { FIREWORKS_API_KEY: KEY + '\n' })
  t.equal(err, undefined)
  t.equal(stub.hits, 1)
  t.equal(stub.lastKey(), KEY)
  t.equal(stub.requests[0]?.headers.authorization, `Bearer ${KEY}`)
  t.match(report(), { status: 'pass', checks: { fireworks: { cause: 'valid', notes: [/Removed a trailing line break from FIREWORKS_API_KEY/] } } })
  t.same(leaks(logs, KEY), [], 'no piece of the key is ever logged')
})

test('faults #3: trailing CR and CRLF are trimmed with a note; the stub sees the clean key', async (t) => {
  t.same(check(KEY + '\r\n'), { ok: true, key: KEY, notes: ['newline'] })
  t.same(check(KEY + '\r'), { ok: true, key: KEY, notes: ['newline'] })
  t.same(check(' ' + KEY + '\t'), { ok: true, key: KEY, notes: ['whitespace'] })
  t.same(check(' ' + KEY + ' \r\n'), { ok: true, key: KEY, notes: ['newline', 'whitespace'] })
  const stub = await stubFor(t, { keys: [KEY] })
  const { err } = await boot(t, stub, { FIREWORKS_API_KEY: KEY + '\r\n' })
  t.equal(err, undefined)
  t.equal(stub.lastKey(), KEY)
  t.equal(stub.requests[0]?.headers.authorization, `Bearer ${KEY}`)
})

test('faults #3: interior CR/LF (header-injection shape) is refused with position and name, never the value', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const injected = await refused(t, stub, 'fw_AAAAAAAAAAAAAAAA\r\nX-Evil: 1', 'malformed', 'control-character')
  t.match(injected.message, /carriage return \(U\+000D\), at position 20 \(and 1 more\)/)
  const lf = await refused(t, stub, 'fw_AAAAAAAAAAAAAAAA\nBBBBBBBBBBBBBBBB', 'malformed', 'control-character')
  t.match(lf.message, /line feed \(U\+000A\), at position 20\./)
  t.notMatch(lf.message, /BBBB|AAAA/)
  t.match(check('fw_AAAAAAAA\u0000AAAAAAAAA'), { ok: false, verdict: { reason: 'control-character', facts: { character: 'null character (U+0000)' } } })
  t.match(check('fw_AAAAAAAA\u007fAAAAAAAAA'), { ok: false, verdict: { reason: 'control-character', facts: { character: 'delete (U+007F)' } } })
  t.match(check('fw_AAAAAAAA\u0085AAAAAAAAA'), { ok: false, verdict: { reason: 'control-character', facts: { character: 'control character (U+0085)' } } })
})

test('faults #4: a leading UTF-8 BOM is removed with a note; a BOM inside is refused', async (t) => {
  t.same(check('\uFEFF' + KEY), { ok: true, key: KEY, notes: ['bom'] })
  t.same(check('\uFEFF' + KEY + '\n'), { ok: true, key: KEY, notes: ['bom', 'newline'] })
  const stub = await stubFor(t, { keys: [KEY] })
  const { err, report } = await boot(t, stub, { FIREWORKS_API_KEY: '\uFEFF' + KEY })
  t.equal(err, undefined)
  t.equal(stub.lastKey(), KEY)
  t.match(report(), { checks: { fireworks: { cause: 'valid', notes: [/byte-order mark \(U\+FEFF\)/] } } })
  const inner = await refused(t, stub, 'fw_AAAAAAAA\uFEFFAAAAAAAAAA', 'malformed', 'invisible')
  t.match(inner.message, /byte-order mark\) \(U\+FEFF\), at position 12/)
})

test('faults #5: zero-width, NBSP, Unicode hyphen and Cyrillic are refused with position and name, never the value', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const cases: Array<[string, string, string, RegExp]> = [
    ['zero-width space', 'fw_AAAAAAAAAAAAAA\u200bAAAAAAAAAA', 'invisible', /zero-width space \(U\+200B\), at position 18 \(pasted from a web page or a chat\?\)/],
    ['zero-width non-joiner', 'fw_AAAAAAAA\u200cAAAAAAAAAAAAAAAA', 'invisible', /zero-width non-joiner \(U\+200C\), at position 12/],
    ['zero-width joiner', 'fw_AAAAAAAA\u200dAAAAAAAAAAAAAAAA', 'invisible', /zero-width joiner \(U\+200D\), at position 12/],
    ['word joiner', 'fw_AAAAAAAA\u2060AAAAAAAAAAAAAAAA', 'invisible', /word joiner \(U\+2060\), at position 12/],
    ['no-break space', 'fw_AAAAAAAA\u00a0AAAAAAAAAAAAAAAA', 'non-ascii', /no-break space \(U\+00A0\), at position 12; API keys are plain ASCII/],
    ['Unicode hyphen', 'fw_AAAAAAAA\u2010AAAAAAAAAAAAAAAA', 'non-ascii', /Unicode hyphen \(U\+2010\), at position 12/],
    ['Cyrillic A', 'fw_AAAAAAAA\u0410AAAAAAAAAAA\u0410AAAA', 'non-ascii', /Cyrillic letter \(looks like a Latin one\?\) \(U\+0410\), at position 12 \(and 1 more\)/]
  ]
  for (const [name, value, reason, message] of cases) {
    await t.test(name, async (t) => {
      const failing = await refused(t, stub, value, 'malformed', reason)
      t.match(failing.message, message)
      t.notMatch(failing.message, /AAAA/)
    })
  }
  t.equal(stub.hits, 0)
})

test('faults #5: positions count from the raw value, before any trimmed BOM or whitespace', async (t) => {
  t.match(check('\uFEFF  fw_AAAAAAAAAAAAAAAA\u200bAAA\n'), { ok: false, verdict: { reason: 'invisible', facts: { position: 23, count: 1 } }, notes: ['bom', 'newline', 'whitespace'] })
  t.match(check('fw_AAAA\u{1D400}AAAAAAAAAAAAAA'), { ok: false, verdict: { reason: 'non-ascii', facts: { position: 8, character: 'character (U+1D400)' } } }, 'an astral character counts as one position')
})

test('faults #5: character names for look-alikes, never the character itself', async (t) => {
  t.equal(nameOf(0x200b), 'zero-width space (U+200B)')
  t.equal(nameOf(0x03bf), 'Greek letter (looks like a Latin one?) (U+03BF)')
  t.equal(nameOf(0xff41), 'full-width form of an ASCII character (U+FF41)')
  t.equal(nameOf(0x2003), 'Unicode space (U+2003)')
  t.equal(nameOf(0x01), 'control character (U+0001)')
  t.equal(nameOf(0x90), 'control character (U+0090)')
  t.equal(nameOf(0xe9), 'character (U+00E9)')
  t.match(check('fw_AAAAAAAA\u00e9AAAAAAAAAAAAAAAA'), { ok: false, verdict: { reason: 'non-ascii', facts: { character: 'character (U+00E9)' } } }, 'é passes both undici APIs, so the schema must catch it')
  for (const code of [0xad, 0x034f, 0x061c, 0x180e, 0x200e, 0x202a, 0x2062, 0x2066]) {
    t.match(check('fw_AAAAAAAA' + String.fromCodePoint(code) + 'AAAAAAAAAAAAAAAA'), { ok: false, verdict: { reason: 'invisible', facts: { position: 12 } } }, nameOf(code))
  }
})

test('faults #6: surrounding quotes are refused, never sent', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const value of [`"${KEY}"`, `'${KEY}'`, `\`${KEY}\``, `"${KEY}`, `${KEY}'`]) {
    const failing = await refused(t, stub, value, 'malformed', 'quoted')
    t.match(failing.message, /FIREWORKS_API_KEY is wrapped in quotes \(or starts or ends with one\)/)
    t.match(failing.fix, /docker run --env-file/)
  }
  t.match(check(`\u201c${KEY}\u201d`), { ok: false, verdict: { reason: 'non-ascii', facts: { position: 1, character: 'left double quotation mark (U+201C)' } } }, 'smart quotes from a word processor')
  t.equal(stub.hits, 0)
})

test('faults #7: Bearer prefix, Authorization line and VAR=value are refused; no doubled scheme is ever sent', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const cases: Array<[string, string, RegExp]> = [
    ['Bearer ' + KEY, 'auth-scheme', /starts with an auth scheme \("Bearer "\)/],
    ['bearer ' + KEY, 'auth-scheme', /auth scheme/],
    ['Token ' + KEY, 'auth-scheme', /auth scheme/],
    ['Authorization: Bearer ' + KEY, 'header-line', /holds a whole header line/],
    ['x-api-key: ' + KEY, 'header-line', /header line/],
    ['FIREWORKS_API_KEY=' + KEY, 'assignment', /holds an assignment \("FIREWORKS_API_KEY=…"\)/],
    ['export FIREWORKS_API_KEY=' + KEY, 'assignment', /assignment/],
    ['fireworks_api_key=' + KEY, 'assignment', /assignment/]
  ]
  for (const [value, reason, message] of cases) {
    const failing = await refused(t, stub, value, 'malformed', reason)
    t.match(failing.message, message)
    t.same(leaks(failing.message, KEY), [])
  }
  t.equal(stub.hits, 0)
})

test('faults #8: placeholders, masked copies and unexpanded templates are refused before any network call', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const placeholders = [
    'your-api-key-here', 'YOUR_API_KEY', '<API_KEY>', 'changeme', 'xxx', 'TODO', 'REPLACE_ME', 'sk-...', 'fw_...', 'fw_xxx',
    'fw_your_fireworks_key', '***', '[REDACTED]', 'undefined', 'null', 'FIREWORKS_API_KEY', 'fw_test', 'fw_AAAAAAAAAAAAAAAAxxxxxxxx',
    'insert your key', 'paste_token_here', 'fw_AAAA…', 'fireworks_api_key'
  ]
  for (const value of placeholders) {
    await t.test(`placeholder #${placeholders.indexOf(value) + 1}`, async (t) => {
      const failing = await refused(t, stub, value, 'malformed', 'placeholder')
      t.match(failing.message, /FIREWORKS_API_KEY holds a placeholder, not a key/)
    })
  }
  // eslint-disable-next-line no-template-curly-in-string -- these are the literal, unexpanded templates under test
  const templates = ['${FIREWORKS_API_KEY}', '$(FIREWORKS_API_KEY)', '{{ .Values.fireworksKey }}', '%FIREWORKS_API_KEY%', '$FIREWORKS_API_KEY', 'fw_${SUFFIX}']
  for (const value of templates) {
    await t.test(`template #${templates.indexOf(value) + 1}`, async (t) => {
      const failing = await refused(t, stub, value, 'malformed', 'template')
      t.match(failing.message, /unexpanded template/)
    })
  }
  t.equal(stub.hits, 0)
})

test('faults #9: another provider\'s key in the Fireworks slot is refused, naming the provider only', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const cases: Array<[string, string]> = [
    ['sk-proj-' + 'a'.repeat(40), 'OpenAI'],
    ['sk-' + 'a'.repeat(20) + 'T3BlbkFJ' + 'a'.repeat(20), 'OpenAI'],
    ['sk-ant-api03-' + 'a'.repeat(40), 'Anthropic'],
    ['gsk_' + 'a'.repeat(52), 'Groq'],
    ['hf_' + 'a'.repeat(34), 'Hugging Face'],
    ['xai-' + 'a'.repeat(80), 'xAI'],
    ['AIzaSy' + 'a'.repeat(33), 'Google Gemini'],
    ['ghp_' + 'a'.repeat(36), 'GitHub token'],
    ['sk-or-v1-' + 'a'.repeat(64), 'OpenRouter']
  ]
  for (const [value, label] of cases) {
    await t.test(label, async (t) => {
      const failing = await refused(t, stub, value, 'malformed', 'wrong-provider')
      t.equal(failing.message, `FIREWORKS_API_KEY looks like ${label}'s key, not a Fireworks AI key.`)
    })
  }
  t.equal(stub.hits, 0)
  t.same(inspect('sk-' + 'a'.repeat(20) + 'T3BlbkFJ' + 'a'.repeat(20), providers.openai, ALL), { ok: true, key: 'sk-' + 'a'.repeat(20) + 'T3BlbkFJ' + 'a'.repeat(20), notes: [] }, 'a legacy OpenAI key in its own slot')
  t.match(inspect('fw_' + 'A'.repeat(32), providers.openai, ALL), { ok: false, verdict: { reason: 'wrong-provider', facts: { other: 'Fireworks AI' } } })
  t.same(inspect('fw_' + 'A'.repeat(32), providers.openai, ALL), inspect('fw_' + 'A'.repeat(32), providers.openai, ALL, []), 'services default to none')
  t.match(check('sk-' + 'a'.repeat(48)), { ok: true, notes: ['shape'] }, 'a bare sk- is shared by several providers: a warning, and the probe decides')
})

test('faults #10: a base64-encoded (or twice-encoded) key is refused', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const once = Buffer.from(KEY).toString('base64')
  const twice = Buffer.from(once).toString('base64')
  t.match(once, /[^=]=$/, 'one padding character')
  const twoPads = Buffer.from('fw_' + 'A'.repeat(31)).toString('base64')
  t.match(twoPads, /==$/, 'two padding characters')
  for (const value of [once, twice, twoPads]) {
    const failing = await refused(t, stub, value, 'malformed', 'base64')
    t.match(failing.message, /appears to be base64-encoded/)
    t.match(failing.fix, /stringData/)
  }
  t.equal(stub.hits, 0)
  const pattern = { ...fireworks, key: { pattern: /^fw_[A-Z]{32}$/ } }
  t.match(inspect(once, pattern, []), { ok: false, verdict: { reason: 'base64' } }, 'recognised by the pattern when there is no prefix')
  t.match(check(Buffer.from('not a key at all, just text').toString('base64')), { ok: true, notes: ['shape'] }, 'decodes to text that is no key')
  t.match(check(Buffer.from('\u0001\u0002binary-bytes-here').toString('base64')), { ok: true }, 'decodes to binary')
  t.match(check(Buffer.from('plain-words-only').toString('base64')), { ok: true }, 'decodes to printable text that is no key')
  t.match(check('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab'), { ok: true, notes: ['shape'] }, 'not a multiple of 4')
  t.match(check('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd'), { ok: true, notes: ['shape'] }, 'valid base64 of random bytes')
  t.match(inspect(once, { ...fireworks, key: {} }, []), { ok: true }, 'a provider with no prefix or pattern cannot tell')
})

test('faults #11: too short, too long and multi-line values are refused with the constraint, not the value', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const short = await refused(t, stub, 'fw_AAAAAAAAA', 'malformed', 'too-short')
  t.equal(short.message, 'FIREWORKS_API_KEY is 12 characters long; a Fireworks AI key has at least 16 (a truncated copy?).')
  const long = await refused(t, stub, 'fw_' + 'A'.repeat(9997), 'malformed', 'too-long')
  t.match(long.message, /is 10000 characters long; a Fireworks AI key has at most 1024/)
  const multi = await refused(t, stub, '-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n', 'malformed', 'control-character')
  t.match(multi.message, /line feed \(U\+000A\), at position 28 \(and 1 more\)/)
  const spaced = await refused(t, stub, 'fw_AAAAAAAAAAAA AAAAAAAAAAAA\tAAAA', 'malformed', 'inner-whitespace')
  t.match(spaced.message, /contains whitespace at position 16 \(and 1 more\); a key is one word/)
  t.equal(stub.hits, 0)
  const custom: ProviderSpec = { id: 'acme', label: 'Acme', env: 'ACME_API_KEY', baseUrl: 'https://api.acme.example', probe: { path: '/v1/models' } }
  t.same(KEY_LENGTH, { min: 16, max: 1024 })
  t.match(inspect('A'.repeat(15), custom, ALL), { ok: false, verdict: { reason: 'too-short', facts: { length: 15, min: 16 } } })
  t.match(inspect('A'.repeat(1025), custom, ALL), { ok: false, verdict: { reason: 'too-long', facts: { length: 1025, max: 1024 } } })
  t.same(inspect('A'.repeat(16), custom, ALL), { ok: true, key: 'A'.repeat(16), notes: [] }, 'no pattern: no shape note')
  t.match(inspect('A'.repeat(20), { ...custom, key: { minLength: 24, maxLength: 30 } }, ALL), { ok: false, verdict: { reason: 'too-short', facts: { min: 24 } } })
  t.match(inspect('A'.repeat(31), { ...custom, key: { minLength: 24, maxLength: 30 } }, ALL), { ok: false, verdict: { reason: 'too-long', facts: { max: 30 } } })
  const started = performance.now()
  t.match(check('${'.repeat(40_000)), { ok: false, verdict: { reason: 'too-long' } })
  t.match(check('a' + ' '.repeat(100_000) + 'b'), { ok: false, verdict: { reason: 'too-long' } })
  t.ok(performance.now() - started < 500, 'a huge value is judged in linear time')
})

test('inspect: a well-formed key passes clean; an unusual shape passes with a note for the probe to decide', async (t) => {
  t.same(check(KEY), { ok: true, key: KEY, notes: [] })
  t.same(check('fpk_' + 'A'.repeat(30)), { ok: true, key: 'fpk_' + 'A'.repeat(30), notes: [] }, 'Fire Pass key')
  t.same(check('A'.repeat(40)), { ok: true, key: 'A'.repeat(40), notes: ['shape'] }, 'legacy unprefixed key')
  t.match(check(''), { ok: false, verdict: { cause: 'missing', reason: 'empty' } })
  t.match(check(' \r\n\t'), { ok: false, verdict: { cause: 'missing', reason: 'blank' }, notes: ['newline', 'whitespace'] })
  t.match(check('\uFEFF'), { ok: false, verdict: { cause: 'missing', reason: 'blank' }, notes: ['bom'] })
  t.match(check('"'), { ok: false, verdict: { reason: 'quoted' } }, 'a lone quote')
})
