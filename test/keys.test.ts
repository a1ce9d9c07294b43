import fc from 'fast-check'
import Fastify from 'fastify'
import t, { test } from 'tap'
import keyguard from '../index.js'
import type { BootRefusedError } from '../index.js'
import { entropy, generated, inspect } from '../lib/core/inspect.js'
import { foreignPrefixes, providers } from '../lib/providers/index.js'
import type { ProviderSpec } from '../lib/providers/types.js'
import { describe } from '../lib/core/wording.js'
import { ALL, FORMATS, adminGuard, checkFormats, watchNetwork } from './helpers/keys.js'
import { stubFor } from './helpers/stub.js'

// The suite's share of the property: enough to walk every format's alternatives and lengths on each run (the
// seed changes per run); `npm run fuzz:keys` runs a million of each (bench/fuzz-keys.ts). 20 000 made this
// file the suite's slowest after the consumer check, about 15 s alone.
const RUNS = Number(process.env.KEYGUARD_KEY_RUNS ?? 2_000)
// A few seconds alone; more under coverage and on a shared machine, so past tap's 30 s default.
t.setTimeout(300_000)

test('every shipped provider has its issued key formats listed for the property', async (t) => {
  t.same(Object.keys(FORMATS).sort(), Object.keys(providers).sort())
  for (const [id, formats] of Object.entries(FORMATS)) t.ok(formats.length > 0 && formats.every((f) => f.source.length > 10), id)
})

test('the network watch sees a real connection (so a zero below means none was made)', async (t) => {
  const stub = await stubFor(t, { mode: 'ok' })
  const net = watchNetwork()
  await (await fetch(stub.url + '/v1/models')).text()
  t.ok(net.stop() >= 1)
  t.equal(stub.hits, 1)
})

for (const [id, provider] of Object.entries(providers) as Array<[string, ProviderSpec]>) {
  test(`${provider.label}: ${RUNS} generated keys of every issued format pass offline, and nothing is sent`, async (t) => {
    for (const run of checkFormats(id, RUNS)) {
      t.equal(run.refused, 0, `${run.format}: none refused`)
      t.equal(run.connections, 0, `${run.format}: no connection`)
    }
  })
}

test('placeholders and templates are still refused in every provider\'s slot', async (t) => {
  const values = [
    'your-api-key', 'your-api-key-here', 'YOUR_API_KEY', 'sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'sk-xxxx…', 'sk-...',
    '<FIREWORKS_API_KEY>', '<your key>', 'changeme', 'fw_your_fireworks_key', 'fw_AAAAAAAAAAAAAAAAxxxxxxxx',
    'pplx-' + 'x'.repeat(48), 'sk-your-openai-key-1234567890', 'AIzaSy' + 'X'.repeat(33), 'sk-ant-api03-' + '*'.repeat(93) + 'AA',
    'nvapi-' + 'x'.repeat(64), 'paste_token_here', 'insert-your-key-here-0123456789'
  ]
  // eslint-disable-next-line no-template-curly-in-string -- literal, unexpanded templates under test
  const templates = ['${FIREWORKS_API_KEY}', '${VAR}', '$(OPENAI_API_KEY)', '{{ .Values.apiKey }}', '%API_KEY%', '$API_KEY', 'sk-proj-${SUFFIX}']
  for (const provider of ALL) {
    for (const value of values) {
      const result = inspect(value, provider, ALL, foreignPrefixes)
      t.match(result, { ok: false, verdict: { cause: 'malformed', reason: 'placeholder' } }, `${provider.id}: ${value.slice(0, 24)}`)
    }
    for (const value of templates) {
      t.match(inspect(value, provider, ALL, foreignPrefixes), { ok: false, verdict: { reason: 'template' } }, `${provider.id}: ${value}`)
    }
  }
})

test('entropy(): the count in an array (ASCII) gives the bits a count per character gives (fast-check)', async (t) => {
  const reference = (text: string): number => {
    const counts = new Map<string, number>()
    for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1)
    let bits = 0
    for (const count of counts.values()) bits -= (count / text.length) * Math.log2(count / text.length)
    return bits
  }
  const same = (text: string): boolean => Math.abs(entropy(text) - reference(text)) < 1e-9
  fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 64 }), same), { numRuns: RUNS })
  // Beside the Map count: astral and non-ASCII characters.
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 64 }), same), { numRuns: RUNS })
  t.pass('both counts agree')
})

test('generated(): the make-up of a generated key', async (t) => {
  const fw = providers.fireworks
  t.equal(entropy('aaaa'), 0)
  t.equal(entropy('abcd'), 2)
  t.ok(generated('fw_Ab3dEf6hIj9lMn2p', fw), 'a 16-character mixed body')
  t.notOk(generated('fw_Ab3dEf6hIj9lMn2', fw), 'a 15-character body is too short to tell')
  t.notOk(generated('fw_abcdefghijklmnopqrstuv', fw), 'one character class: words, not randomness')
  t.notOk(generated('fw_AAAAAAAAAAAAAAAAxxxxxxxx', fw), 'runs: too little entropy')
  t.notOk(generated('fw_Ab3d{Ef6hIj9lMn2p}', fw), 'characters no key has')
  t.notOk(generated('sk-Your-Api-Key-Here-12345678', providers.openai), 'two placeholder words as whole segments')
  t.ok(generated('sk-proj-Ab3d-key-f6hIj9lMn2pQr5tUv8', providers.openai), 'one such word is chance')
  t.ok(generated('A1' + 'b'.repeat(7) + 'C'.repeat(7) + 'd9', { ...fw, key: { prefixes: 7 as unknown as string[] } }) === false, 'a low-entropy body even when prefixes are malformed')
  const { key: _unused, ...bare } = fw
  t.ok(generated('Ab3dEf6hIj9lMn2pQr5t', bare), 'no key facts: the whole value is the body')
  // The bug this guards against: a random Gemini key holding "-test-" behind an all-alphanumeric start.
  const gemini = 'AIzaSyB3x9-test-Qw7ErT5yU1iO3pA8sD6fG2h'
  t.equal(gemini.length, 39)
  t.same(inspect(gemini, providers.gemini, ALL, foreignPrefixes), { ok: true, key: gemini, notes: [] })
  const replicate = 'r8_my-Xk2Lp9Qz4Wv7Ns1Bt6Yc3Dh8Fj0Gm5Hrxy'
  t.equal(replicate.length, 40)
  t.same(inspect(replicate, providers.replicate, ALL, foreignPrefixes), { ok: true, key: replicate, notes: [] })
  const dots = 'AQ.Ab8Cd2...Ef5Gh7Ij1Kl4Mn6Op9Qr3St0UvWx'
  t.same(inspect(dots, providers.gemini, ALL, foreignPrefixes), { ok: true, key: dots, notes: [] }, 'an auth key holding "..."')
})

test('admin keys: refused offline in the inference slot with what to use instead; accepted by an admin guard', async (t) => {
  const cases: Array<[ProviderSpec, string, RegExp]> = [
    [providers.openai, 'sk-admin-' + 'Ab3dEf6hIj'.repeat(6) + 'T3BlbkFJ' + 'Qr5tUv8wXy'.repeat(6), /OpenAI admin key/],
    [providers.anthropic, 'sk-ant-admin01-' + 'Ab3d_Ef6h-'.repeat(9) + 'Ij9AA', /Anthropic admin key/]
  ]
  for (const [provider, key, label] of cases) {
    const result = inspect(key, provider, ALL, foreignPrefixes)
    t.match(result, { ok: false, verdict: { cause: 'malformed', reason: 'admin-key' } }, provider.id)
    if (result.ok) continue
    const { message, fix } = describe(result.verdict, { label: provider.label, where: provider.env, env: provider.env, dashboard: provider.dashboard })
    t.match(message, label)
    t.match(message, /manages the organisation and cannot call models/)
    t.notOk(message.includes(key) || fix.includes(key), 'never the key')
    t.match(fix, new RegExp(`^Create a project or API key \\(not an admin key\\) at ${provider.dashboard ?? ''} and put it in ${provider.env}\\. To guard an admin key on purpose, pass a ProviderSpec`))
    t.same(inspect(key, adminGuard(provider), ALL, foreignPrefixes), { ok: true, key, notes: [] }, 'a spec guarding admin keys on purpose takes it')
    t.match(inspect(key, { ...provider, key: { ...provider.key, adminPrefixes: 'sk-' as unknown as string[] } }, ALL), { ok: true }, 'malformed adminPrefixes are ignored')
  }
  const stub = await stubFor(t, { mode: 'ok' })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'openai', baseUrl: stub.url }], env: { OPENAI_API_KEY: cases[0]?.[1] }, probe: { retries: 0, interval: 0 } })
  const err = await app.ready().then(() => undefined, (e: BootRefusedError) => e)
  t.equal(err?.code, 'FST_KEYGUARD_BOOT_REFUSED')
  t.match(err?.checks[0], { cause: 'malformed', reason: 'admin-key' })
  t.equal(stub.hits, 0, 'never sent')
})
