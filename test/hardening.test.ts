// Issue 11, hardening round 2: user callbacks, keys in name slots, upstream echoes in any form,
// prototype-borne options, lingering timers and caches, big or odd input, and readiness for strangers.
// test/FAULTS.md maps each class to the tests here.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import Fastify from 'fastify'
import { test } from 'tap'
import keyguard from '../index.js'
import type { FastifyKeyguardOptions, KeySpec, ProviderSpec } from '../index.js'
import { main } from '../lib/cli/main.js'
import { Guard } from '../lib/core/guard.js'
import { resolveOptions } from '../lib/core/options.js'
import { providers } from '../lib/providers/index.js'
import { echoes, requestIdOf, safeName, scrub, SecretForms } from '../lib/core/redact.js'
import { statusOf } from '../lib/core/causes.js'
import { classify } from '../lib/core/classify.js'
import { describe as describeVerdict } from '../lib/core/wording.js'
import type { Cause } from '../lib/core/causes.js'
import { appWith, booted, leaks, logs, until } from './helpers/app.js'
import { childEnv, memoryIo } from './helpers/cli.js'
import { startStub, stubFor } from './helpers/stub.js'

const KEY = 'fw_' + 'K'.repeat(8) + 'q1w2e3r4t5y6u7i8o9p0'
/** A key of the custom provider below. */
const ACME = 'acme_' + 'M'.repeat(8) + 'z9x8c7v6b5n4m3l2k1j0'
const SEED = Number(process.env.KEYGUARD_FUZZ_SEED ?? 20_251_111)

/** A custom provider whose probe answers at `baseUrl`, with the given `classify`. */
function custom (baseUrl: string, classify?: ProviderSpec['classify'], extra: Partial<ProviderSpec> = {}): ProviderSpec {
  return { id: 'acme', label: 'Acme', env: 'ACME_API_KEY', baseUrl, probe: { path: '/v1/models' }, ...(classify === undefined ? {} : { classify }), ...extra }
}

/** Keys in every shipped provider's own format. */
const providerKey = fc.constantFrom(...Object.values(providers as Record<string, ProviderSpec>).filter((p) => p.key?.pattern !== undefined))
  .chain((p) => fc.stringMatching(p.key?.pattern as RegExp).map((key) => ({ provider: p, key })))
  .filter(({ key }) => key.length >= 16)

/** No 8-character piece of the key, nor any form scrub() knows, in `text`. */
function clean (text: string, key: string): boolean {
  return leaks(text, key).length === 0 && scrub(text, [key]) === text
}

// ---------------------------------------------------------------------------------------------
// 1. User callbacks cannot crash the server

const throwers: Record<string, () => unknown> = {
  'throws an Error': () => { throw new Error('alert webhook down') },
  'throws a string': () => { throw 'alert webhook down' }, // eslint-disable-line no-throw-literal
  'rejects (async)': async () => { throw new Error('alert webhook down') },
  'rejects with undefined': () => Promise.reject(undefined), // eslint-disable-line prefer-promise-reject-errors
  'returns a rejecting thenable': () => ({ then: (_ok: unknown, fail: (e: unknown) => void) => fail(new Error('thenable')) })
}

for (const [kind, callback] of Object.entries(throwers)) {
  test(`hardening #1: onChange that ${kind} is logged once with { err }, at boot and on a later change; the server stays up`, async (t) => {
    const stub = await stubFor(t, { keys: [KEY] })
    const { app, logs } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, probe: { interval: 0 }, onInvalid: 'degrade', onChange: callback as never })
    const failures = (): Array<Record<string, unknown>> => logs.records().filter((r) => /onChange callback/.test(String(r.msg)))
    t.ok(await until(() => failures().length === 1), 'logged at boot')
    stub.set('401json')
    await app.keyguard.recheck()
    t.ok(await until(() => failures().length === 2), 'logged on the later change')
    await new Promise((resolve) => setTimeout(resolve, 30))
    t.equal(failures().length, 2, 'once per change, no more')
    for (const record of failures()) {
      t.equal(record.level, 50)
      t.type(record.err, 'object', 'the error is logged as err')
    }
    t.equal((await app.inject('/livez')).statusCode, 200, 'still serving')
  })
}

test('hardening #1: property — any throwing or rejecting onChange is logged once per change, never an unhandled rejection', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const failure = fc.oneof(fc.string(), fc.constant(undefined), fc.constant(null), fc.string().map((m) => new Error(m)), fc.integer())
  await fc.assert(fc.asyncProperty(fc.constantFrom('throw', 'reject', 'async'), failure, async (how, reason) => {
    const onChange = how === 'throw' ? () => { throw reason } : how === 'reject' ? () => Promise.reject(reason) : async () => { throw reason }
    const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, probe: { interval: 0 }, onChange: onChange as never })
    await app.ready()
    await new Promise((resolve) => setImmediate(resolve))
    await app.close()
    const lines = logs.records().filter((r) => /onChange callback/.test(String(r.msg)))
    return lines.length === 1 && 'err' in (lines[0] as object) && unhandled.length === 0
  }), { seed: SEED, numRuns: 25 })
})

const verdicts: Record<string, ProviderSpec['classify']> = {
  'an unknown cause': () => ({ cause: 'bogus' as 'valid' }),
  'a cause named like a prototype member': () => ({ cause: 'constructor' as 'valid' }),
  'a non-object': () => 'valid' as never,
  null: () => null as never,
  'a throw': () => { throw new Error('classify bug') },
  'reason constructor': () => ({ cause: 'rejected', reason: 'constructor' }),
  'reason __proto__': () => ({ cause: 'rejected', reason: '__proto__' }),
  'reason toString': () => ({ cause: 'limited', reason: 'toString' }),
  'a non-string reason': () => ({ cause: 'rejected', reason: 42 as never })
}

for (const [kind, classify] of Object.entries(verdicts)) {
  test(`hardening #1: a custom classify returning ${kind} is a safe verdict at ready() and on timer rechecks`, async (t) => {
    const stub = await stubFor(t, { keys: [ACME] })
    const { app, logs } = await booted(t, { keys: [{ provider: custom(stub.url, classify) }], env: { ACME_API_KEY: ACME }, probe: { interval: 20, jitter: 0 }, onInvalid: 'degrade' })
    const check = app.keyguard.report().checks.acme
    t.ok(['unreachable', 'rejected', 'limited'].includes(check?.cause as string), `cause ${check?.cause as string}`)
    t.equal(typeof check?.message, 'string')
    t.notMatch(check?.message, /^\[|function|object Object|unexpected HTTP/, 'a sentence of its cause, not a prototype member rendered')
    t.ok(await until(() => stub.hits >= 3), 'timer rechecks keep running')
    if (!/reason/.test(kind)) {
      t.equal(check?.reason, 'provider-code')
      t.ok(logs.records().some((r) => r.level === 50 && /classify/.test(String(r.msg))), 'a log line names the custom classify')
    }
  })
}

test('hardening #1: a custom valid() that throws or returns a Promise is no valid key', async (t) => {
  const stub = await stubFor(t, { keys: [ACME] })
  for (const valid of [() => { throw new Error('valid bug') }, async () => true]) {
    const { app, logs } = await appWith({ keys: [{ provider: custom(stub.url, undefined, { valid: valid as never }) }], env: { ACME_API_KEY: ACME }, probe: { interval: 0 } })
    await app.ready()
    const check = app.keyguard.report().checks.acme
    await app.close()
    t.equal(check?.cause, 'unreachable')
    t.not(check?.cause, 'valid', 'a Promise is not true')
    t.equal(logs.records().filter((r) => /ProviderSpec failed/.test(String(r.msg)) && r.err !== undefined).length, valid.constructor.name === 'AsyncFunction' ? 0 : 1)
  }
  const headers = Object.assign(Object.create({ authorization: 'Bearer stolen' }) as Record<string, string>, { 'acme-version': '1' })
  const { app } = await appWith({ keys: [{ provider: custom(stub.url, undefined, { probe: { path: '/v1/models', headers } }) }], env: { ACME_API_KEY: ACME }, probe: { interval: 0 } })
  await app.ready()
  await app.close()
  t.equal(stub.requests.at(-1)?.headers['acme-version'], '1', 'own probe headers are sent')
  t.equal(stub.lastKey(), ACME, 'inherited ones are not')
})

test('hardening #1: classify() and statusOf() fail closed on what is not theirs', async (t) => {
  const answer = { status: 200, headers: {}, text: '{}', json: {}, truncated: false }
  const faults: Error[] = []
  const odd = custom('https://acme.example', () => { throw null }) // eslint-disable-line no-throw-literal
  t.match(classify(answer, odd, 'https://acme.example', (err) => faults.push(err)), { cause: 'unreachable', reason: 'provider-code' })
  t.match(faults[0]?.message, /non-Error value \(null\)/)
  const thrower = custom('https://acme.example', () => { throw 7 }) // eslint-disable-line no-throw-literal
  t.equal(classify(answer, thrower, 'https://acme.example').reason, 'provider-code', 'no onFault given: still a verdict')
  const numbered = custom('https://acme.example', () => ({ cause: 'unreachable', reason: 5 as never }))
  t.equal(classify(answer, numbered, 'https://acme.example').reason, 'unexpected-status')
  t.equal(statusOf('constructor' as Cause, 'warn'), 'fail', 'a cause outside the table fails closed')
  t.equal(statusOf('valid', 'warn'), 'pass')
})

test('hardening #1: describe() and the cause table are read as own properties', async (t) => {
  const subject = { label: 'Acme', where: 'ACME_API_KEY', env: 'ACME_API_KEY' }
  for (const reason of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    const { message, fix } = describeVerdict({ cause: 'unreachable', reason }, subject)
    t.match(message, /Acme/, reason)
    t.type(fix, 'string')
  }
})

// ---------------------------------------------------------------------------------------------
// 2. A key put where a name belongs is never printed

test('hardening #2: a key in the env slot, the name slot or a _FILE variable is never printed', async (t) => {
  for (const spec of [{ provider: 'fireworks', env: KEY }, { provider: 'fireworks', name: KEY }] as KeySpec[]) {
    const { logs: captured, stream } = logs()
    const app = Fastify({ logger: { level: 'trace', stream } })
    let message = ''
    try {
      await app.register(keyguard, { keys: [spec], env: {} })
      await app.ready()
      message = JSON.stringify(app.keyguard.report())
    } catch (err) {
      message = String((err as Error).message) + String((err as Error).stack)
      t.equal((err as { code?: string }).code, 'FST_KEYGUARD_OPTIONS', 'refused at register')
      t.match(message, /looks like a key/, 'says what was wrong')
    }
    await app.close()
    t.same(leaks(message + captured.text(), KEY), [], JSON.stringify(spec).slice(0, 30))
  }
  const { app, logs: captured } = await booted(t, { keys: ['fireworks'], env: { FIREWORKS_API_KEY_FILE: KEY }, onInvalid: 'degrade', probe: false })
  const report = JSON.stringify(app.keyguard.report())
  t.match(report, /file-missing/)
  t.same(leaks(report + captured.text(), KEY), [], 'a key in the _FILE variable is not printed as a path')
})

test('hardening #2: a variable whose name is a key is not offered by name', async (t) => {
  const { app, logs: captured } = await booted(t, { keys: ['fireworks'], env: { [`FIREWORKS_KEY_${KEY}`]: 'x', FIREWORKS_KEY: 'y' }, onInvalid: 'degrade' })
  const message = app.keyguard.report().checks.fireworks?.message
  t.match(message, /FIREWORKS_KEY, \(a variable whose name looks like a key, \d+ characters\)/)
  t.same(leaks(String(message) + captured.text(), KEY), [])
})

test('hardening #2: key(KEY) and recheck(KEY) never print the key', async (t) => {
  const { app, logs: captured } = await booted(t, { keys: ['fireworks'], env: { FIREWORKS_API_KEY: KEY }, probe: false })
  const errors: string[] = []
  try { app.keyguard.key(KEY) } catch (err) { errors.push(String((err as Error).message)) }
  await app.keyguard.recheck(KEY).catch((err: Error) => errors.push(err.message))
  t.equal(errors.length, 2)
  t.match(errors[0], /No key named a value that looks like a key/)
  t.match(app.keyguard.key.bind(null, 'fireworkz'), /./, 'typos still work')
  t.throws(() => app.keyguard.key('fireworkz'), /No key named "fireworkz"/, 'a plain name is still quoted')
  t.throws(() => app.keyguard.key(42 as never), /No key named a number/, 'not a string')
  t.same(leaks(errors.join('\n') + captured.text(), KEY), [])
})

test('hardening #2: keyguard check fireworks --env "$KEY" is a usage error that does not print the key', async (t) => {
  const io = memoryIo({})
  const code = await main(['check', 'fireworks', '--env', KEY], io)
  t.equal(code, 64)
  t.match(io.err(), /--env takes the name of a variable/)
  t.same(leaks(io.out() + io.err(), KEY), [])
})

test('hardening #2: safeName() quotes plain names and describes secret-like ones', async (t) => {
  t.equal(safeName('fireworks'), '"fireworks"')
  t.equal(safeName('FIREWORKS_API_KEY'), '"FIREWORKS_API_KEY"')
  t.equal(safeName('openai.backup-2'), '"openai.backup-2"')
  t.equal(safeName(KEY), 'a value that looks like a key (31 characters)')
  t.equal(safeName('a\u001b[31mb'), '"a\\u001B[31mb"', 'control characters escaped')
  t.equal(safeName(null), 'null')
  t.equal(safeName(42), 'a number')
  t.equal(safeName('say "hi"'), '"say \\"hi\\""', 'quotes escaped')
})

test('hardening #2: property — no option, decorator argument or CLI flag that receives a key echoes a piece of it', async (t) => {
  await fc.assert(fc.asyncProperty(providerKey, async ({ provider, key }) => {
    const texts: string[] = [safeName(key)]
    for (const spec of [{ provider: provider.id, env: key }, { provider: provider.id, name: key }, { provider: provider.id, value: key, name: 'x' }] as KeySpec[]) {
      try {
        resolveOptions({ keys: [spec] }, {})
      } catch (err) {
        texts.push(String((err as Error).message))
      }
    }
    // A provider without a shared endpoint (Azure OpenAI) needs a baseUrl.
    const entry = provider.requiresBaseUrl === undefined ? provider.id as 'fireworks' : { provider: provider.id as 'fireworks', baseUrl: 'https://r.example.test' }
    const { app, logs: captured } = await appWith({ keys: [entry], env: { [`${provider.env}_FILE`]: key }, probe: false, onInvalid: 'degrade' }, { logger: false })
    await app.ready()
    try { app.keyguard.key(key) } catch (err) { texts.push(String((err as Error).message)) }
    await app.keyguard.recheck(key).catch((err: Error) => texts.push(err.message))
    texts.push(JSON.stringify(app.keyguard.report()), captured.text())
    await app.close()
    const io = memoryIo({})
    await main(['check', provider.id, '--env', key], io)
    await main(['check', key], io)
    await main(['check', provider.id, `--env=${key}`, '--timeout', key], io)
    texts.push(io.out(), io.err())
    return texts.every((text) => clean(text, key))
  }), { seed: SEED, numRuns: 60 })
})

// ---------------------------------------------------------------------------------------------
// 3. Upstream text, in any form scrub() knows

test('hardening #3: echoes() and requestIdOf() see every form scrub() knows', async (t) => {
  const odd = 'k3y+with/slash=and"q' + 'Z'.repeat(12)
  for (const secret of [KEY, odd]) {
    const forms = [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]
    for (const form of forms) {
      t.ok(echoes(`id-${form}-x`, [secret]), `echo of ${form.slice(0, 12)}`)
      t.equal(requestIdOf(form.replace(/[^\w.:/+=-]/g, '').slice(0, 120), [secret]), undefined, `request id ${form.slice(0, 12)}`)
    }
    // Basic auth: base64 of "user:" + key, whose alignment differs from the key's own.
    for (const prefix of ['u:', 'us:', 'user:']) {
      const basic = Buffer.from(prefix + secret).toString('base64')
      t.ok(echoes(basic, [secret]), `misaligned base64 after ${prefix}`)
      t.not(scrub(`Basic ${basic}`, [secret]), `Basic ${basic}`, `scrubbed after ${prefix}`)
    }
  }
  t.equal(requestIdOf('req_abc123', [KEY]), 'req_abc123', 'an ordinary id is kept')
})

test('hardening #3: keys shorter than 8 characters are scrubbed too', async (t) => {
  t.equal(scrub('the key is s3cr3t!', ['s3cr3t']), 'the key is [REDACTED]!')
  t.equal(scrub(`b64 ${Buffer.from('abc12').toString('base64')}`, ['abc12']), 'b64 [REDACTED]')
  t.ok(echoes('x-abc12', ['abc12']))
  t.equal(requestIdOf('req-s3cr3t', ['s3cr3t']), undefined)
  t.equal(scrub('anything', ['']), 'anything', 'an empty secret is nothing to scrub')
})

test('hardening #3: a redirect to a host that echoes the key does not print it', async (t) => {
  const key = 'sk-' + 'abcdef0123456789'.repeat(2)
  const stub = await stubFor(t, { mode: 'redirect', location: `https://${key.slice(3)}.evil.example/x` })
  const { app, logs: captured } = await booted(t, { keys: [{ provider: 'deepseek', baseUrl: stub.url }], env: { DEEPSEEK_API_KEY: key }, probe: { interval: 0 } })
  const check = app.keyguard.report().checks.deepseek
  t.equal(check?.reason, 'redirect')
  t.same(leaks(JSON.stringify(check) + captured.text(), key), [])
})

// ---------------------------------------------------------------------------------------------
// 4. Options are read as own properties only

async function attacker (): Promise<{ url: string, hits: () => number, close: () => Promise<void> }> {
  let hits = 0
  const server = createServer((_req, res) => { hits++; res.end('{}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

test('hardening #4: a KeySpec whose baseUrl comes from its prototype never sends the key there', async (t) => {
  const evil = await attacker()
  const honest = await startStub({ keys: [ACME] })
  t.teardown(async () => { await evil.close(); await honest.close() })
  const spec = Object.assign(Object.create({ baseUrl: evil.url, value: 'fw_' + 'P'.repeat(30) }) as KeySpec, { provider: custom(honest.url) })
  await booted(t, { keys: [spec], env: { ACME_API_KEY: ACME }, probe: { interval: 0 } })
  t.equal(evil.hits(), 0, 'zero hits on the prototype origin')
  t.equal(honest.hits, 1, 'the probe went to the own baseUrl')
  t.equal(honest.lastKey(), ACME, 'and the prototype value was not used')
})

test('hardening #4: a polluted Object.prototype changes no option', async (t) => {
  const evil = await attacker()
  const honest = await startStub({ keys: [ACME] })
  t.teardown(async () => { await evil.close(); await honest.close() })
  let dispatched = 0
  const polluted: Record<string, unknown> = {
    baseUrl: evil.url,
    dispatcher: { dispatch: () => { dispatched++; return false } },
    FIREWORKS_API_KEY_FILE: '/etc/passwd',
    HTTPS_PROXY: evil.url,
    HTTP_PROXY: evil.url,
    onChange: () => { dispatched++ },
    recognise: () => true
  }
  const proto = Object.prototype as Record<string, unknown>
  for (const [name, value] of Object.entries(polluted)) Object.defineProperty(proto, name, { value, configurable: true, writable: true })
  try {
    const { app } = await appWith({ keys: [{ provider: custom(honest.url) }], env: { ACME_API_KEY: ACME }, probe: { interval: 0 }, health: {}, problem: {} })
    await app.ready()
    t.equal(app.keyguard.report().checks.acme?.cause, 'valid')
    await app.close()
  } finally {
    for (const name of Object.keys(polluted)) Reflect.deleteProperty(proto, name)
  }
  t.equal(evil.hits(), 0, 'zero hits on the polluted origin or proxy')
  t.equal(dispatched, 0, 'no polluted dispatcher or callback ran')
  t.equal(honest.lastKey(), ACME)
})

// ---------------------------------------------------------------------------------------------
// 5. Nothing lingers

test('hardening #5: listen() on a taken port, caught by the app: the process exits by itself, zero probes after', async (t) => {
  const stub = await startStub({ keys: [KEY] })
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await stub.close(); taken.close() })
  const fixture = fileURLToPath(new URL('./fixtures/listen-fails.ts', import.meta.url))
  const env = { ...childEnv(), STUB_URL: stub.url, PORT: String((taken.address() as AddressInfo).port), KEY }
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let failedAt = 0
  let hitsAtFailure = -1
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdout.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('EADDRINUSE')) {
      failedAt = performance.now()
      hitsAtFailure = stub.hits
    }
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(killer)
  const after = performance.now() - failedAt
  t.equal(code, 0, stderr)
  t.ok(failedAt > 0, 'listen failed with EADDRINUSE')
  t.ok(after < 1000, `exited ${Math.round(after)} ms after the failure`)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(stub.hits, hitsAtFailure, 'zero probes after the failure')
})

test('hardening #5: the secret-forms cache belongs to one Guard and is emptied on close', async (t) => {
  const guard = new Guard(resolveOptions({ keys: ['fireworks'], env: { FIREWORKS_API_KEY: KEY }, probe: false }, {}), Fastify().log)
  const other = new Guard(resolveOptions({ keys: ['fireworks'], env: { FIREWORKS_API_KEY: KEY }, probe: false }, {}), Fastify().log)
  await guard.start(Infinity)
  t.equal(guard.scrub(`x ${KEY}`), 'x [REDACTED]')
  t.ok(guard.forms.size > 0, 'filled by use')
  t.equal(other.forms.size, 0, 'another app has its own')
  guard.close()
  t.equal(guard.forms.size, 0, 'emptied on close')
  const forms = new SecretForms()
  t.equal(scrub(`x ${KEY}`, [KEY], forms), 'x [REDACTED]', 'scrub() takes a cache')
  t.equal(forms.size, 1)
  t.equal(scrub(`x ${KEY}`, [KEY]), 'x [REDACTED]', 'and works without one')
})

// ---------------------------------------------------------------------------------------------
// 6. Big or odd input

test('hardening #6: a 50 MB value is refused fast, as too long', async (t) => {
  const huge = 'fw_' + 'a'.repeat(50 * 1024 * 1024)
  const started = performance.now()
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', value: huge }], onInvalid: 'degrade', probe: false }, { logger: false })
  const took = performance.now() - started
  t.equal(app.keyguard.report().checks.fireworks?.reason, 'too-long')
  t.ok(took < 500, `refused in ${Math.round(took)} ms`)
})

test('hardening #6: _FILE paths with control characters are escaped in every message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-hard-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const name of ['key\n', 'k\u001b[2Jey', 'k\u202eey']) {
    const { app, logs: captured } = await appWith({ keys: ['fireworks'], env: { FIREWORKS_API_KEY_FILE: join(dir, name) }, onInvalid: 'degrade', probe: false })
    await app.ready()
    const text = JSON.stringify(app.keyguard.report()) + captured.text()
    const check = app.keyguard.report().checks.fireworks
    await app.close()
    t.notMatch(check?.message, /[\p{Cc}\u202e]/u, 'no raw control character in the message')
    t.notMatch(check?.fix, /[\p{Cc}\u202e]/u, 'nor in the fix')
    t.match(text, /\\u00(?:0A|1B)|\\u202E/i, 'escaped instead')
  }
})

// ---------------------------------------------------------------------------------------------
// 7. Readiness tells strangers nothing

test('hardening #7: the anonymous /readyz body is { status } only; ?verbose adds per-check status and cause', async (t) => {
  const stub = await stubFor(t, { mode: '401json' })
  const options: FastifyKeyguardOptions = { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: KEY }, onInvalid: 'degrade', probe: { interval: 0 } }
  const { app } = await appWith(options)
  t.teardown(() => app.close())
  const anonymous = await app.inject('/readyz')
  t.equal(anonymous.statusCode, 503)
  t.same(anonymous.json(), { status: 'fail' })
  const verbose = await app.inject('/readyz?verbose')
  t.equal(verbose.statusCode, 503)
  t.match(verbose.json(), { status: 'fail', checks: { 'fireworks:apiKey': [{ status: 'fail', output: 'rejected' }] } })
  t.notMatch(verbose.body, /fw_|FIREWORKS_API_KEY|rejected .*HTTP|Create a/, 'no fingerprint, variable or message')
  for (const [details, anon, verb] of [['always', true, true], [false, false, false], [true, true, true], ['verbose', false, true]] as const) {
    const { app: other } = await appWith({ ...options, health: { details } })
    const a = (await other.inject('/readyz')).json()
    const v = (await other.inject('/readyz?verbose=1')).json()
    await other.close()
    t.equal('checks' in a, anon, `details ${String(details)}: anonymous`)
    t.equal('checks' in v, verb, `details ${String(details)}: verbose`)
  }
  t.throws(() => resolveOptions({ keys: ['fireworks'], health: { details: 'yes' } }, {}), /option "health\.details" must be 'verbose', 'always' or false/)
})

// ---------------------------------------------------------------------------------------------
// 8. The README states the truth — in readme.test.ts
