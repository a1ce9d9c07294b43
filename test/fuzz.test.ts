// Property tests with a fixed seed and bounded runs: key values through inspect() and a full boot, and
// upstream answers through classify() and the live probe against a stand-in that replays them.
// The plugin never throws an unexpected error, never crashes, always yields a cause from CAUSES, and
// never lets a piece of the key out.
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import fc from 'fast-check'
import { test } from 'tap'
import type { Test } from 'tap'
import { Agent } from 'undici'
import { inspect } from '../lib/core/inspect.js'
import { probe } from '../lib/core/probe.js'
import { foreignPrefixes, providers } from '../lib/providers/index.js'
import type { ProbeAnswer } from '../lib/providers/index.js'
import { parseRetryAfter } from '../lib/core/retry-after.js'
import { CAUSES } from '../lib/core/causes.js'
import { classify } from '../lib/core/classify.js'
import { describe } from '../lib/core/wording.js'
import type { Verdict } from '../lib/core/causes.js'
import { appWith, canary, leaks } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'

/** Fixed, so a run is reproducible; set KEYGUARD_FUZZ_SEED to explore further. */
const SEED = Number(process.env.KEYGUARD_FUZZ_SEED ?? 20_261_126)
const ALL = Object.values(providers)
const { fireworks } = providers
const CAUSE_NAMES = Object.keys(CAUSES)

/** Every unhandled rejection or uncaught exception while the fuzzers run (there must be none). */
const escaped: unknown[] = []
const onEscape = (err: unknown): void => { escaped.push(err) }
process.on('unhandledRejection', onEscape)
process.on('uncaughtExceptionMonitor', onEscape)

/** Renders a verdict as the guard does and checks it: a known cause, and no piece of `key` in the words. */
function rendered (verdict: Verdict, key: string): string[] {
  const problems: string[] = []
  if (!CAUSE_NAMES.includes(verdict.cause)) problems.push(`unknown cause ${String(verdict.cause)}`)
  const { message, fix } = describe(verdict, { label: fireworks.label, where: fireworks.env, env: fireworks.env, fingerprint: 'fw_…0000', dashboard: fireworks.dashboard })
  const found = leaks(`${message}\n${fix}\n${JSON.stringify(verdict)}`, key)
  if (found.length > 0) problems.push(`key pieces in the message: ${found.length}`)
  return problems
}

// Characters keys go wrong with: controls, invisibles, look-alikes, quotes, template and placeholder syntax.
const TRICKY = ['\r', '\n', '\t', '\0', '\x1b', '\x7f', '\u0085', ' ', '\u00a0', '\u200b', '\u200d', '\u2060', '\ufeff', '\u2010', '\u0430',
  '\ud800', '\udfff', '😀', '"', "'", '`', '$', '{', '}', '(', ')', '<', '>', '%', '=', ':', '*', '.', '…', 'x', '_', '-', '/', '+', '\\']
const tricky = fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 12 })
const affix = fc.oneof(
  tricky,
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.constantFrom('', 'Bearer ', 'Authorization: Bearer ', 'FIREWORKS_API_KEY=', 'export FIREWORKS_API_KEY=', '${', '$(', '{{', '"', "'", '\ufeff', 'sk-proj-', 'AIza', '\n', '\r\n')
)

/** A key value: the canary with something around (or inside) it, or a long run up to ~70 KB. */
function keyValues (key: string): fc.Arbitrary<string> {
  const half = key.length >> 1
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(affix, affix).map(([before, after]) => before + key + after) },
    { weight: 3, arbitrary: fc.tuple(affix, tricky).map(([before, inside]) => before + key.slice(0, half) + inside + key.slice(half)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1_000, max: 70_000 }), fc.constantFrom('a', ' ', '\t', ' \n', 'x', '.', '=', '\u200b', '$')).map(([n, unit]) => key + unit.repeat(Math.ceil(n / unit.length)) + key) },
    { weight: 1, arbitrary: fc.constantFrom(key.repeat(1_700), `${key}\n`.repeat(1_000), `"${key}`.padEnd(70_000, '"')) }
  )
}

test('fuzz: inspect() over key values never throws, refuses with a cause from the table, and never echoes the key (faults #2-#11 #81)', async (t) => {
  const key = canary()
  let slowest = 0
  fc.assert(fc.property(keyValues(key), (value) => {
    const started = performance.now()
    const out = inspect(value, fireworks, ALL, foreignPrefixes)
    slowest = Math.max(slowest, performance.now() - started)
    if (out.ok) {
      // What passes is sent as a header: printable ASCII only, and a piece of what the operator set.
      return /^[\x21-\x7e]+$/.test(out.key) && value.includes(out.key)
    }
    return ['missing', 'malformed'].includes(out.verdict.cause) && rendered(out.verdict, key).length === 0
  }), { seed: SEED, numRuns: 600 })
  t.ok(slowest < 500, `the slowest inspect() took ${slowest.toFixed(1)} ms (values up to ~70 KB)`)
})

test('fuzz: a full plugin boot with generated key values: boots or refuses cleanly, sends only a clean key, logs no piece of it', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  await fc.assert(fc.asyncProperty(keyValues(key), async (value) => {
    const before = stub.hits
    const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: value }, probe: { interval: 0, retries: 0, timeout: 1_000 } })
    let error: { code?: unknown, message?: unknown, stack?: unknown, checks?: unknown } | undefined
    try {
      await app.ready()
    } catch (err) {
      error = err as typeof error
    }
    const report = app.keyguard.report()
    await app.close()
    const check = report.checks.fireworks
    const seen = [logs.text(), JSON.stringify(report), String(error?.message), String(error?.stack), JSON.stringify(error?.checks ?? null)].join('\n')
    const sent = stub.hits > before ? stub.lastKey() : undefined
    const clean = inspect(value, fireworks, ALL, foreignPrefixes)
    return (error === undefined || error.code === 'FST_KEYGUARD_BOOT_REFUSED') &&
      check !== undefined && CAUSE_NAMES.includes(check.cause) &&
      (error === undefined) === (check.status !== 'fail') &&
      // Only what inspection let through is ever sent, and only the canary itself is accepted.
      sent === (clean.ok ? clean.key : undefined) &&
      (check.cause === 'valid') === (sent === key) &&
      leaks(seen, key).length === 0
  }), { seed: SEED, numRuns: 40 })
  t.pass('every generated key value booted or refused cleanly')
})

// Upstream answers: statuses 100–599 (standard or not), random headers (duplicated Retry-After among
// them), random or enveloped bodies, sometimes cut short of their Content-Length.
const headerName = fc.oneof(
  fc.constantFrom('retry-after', 'retry-after', 'content-type', 'date', 'x-request-id', 'request-id', 'server', 'cf-ray', 'location', 'www-authenticate', 'set-cookie'),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: 1, maxLength: 16 }).filter((name) => !['content-length', 'transfer-encoding', 'connection', 'upgrade'].includes(name))
)
const headerValue = (key: string): fc.Arbitrary<string> => fc.oneof(
  fc.constantFrom('120', '0', '0x10', '-3', '1e3', '1.5', ' 120 ', 'Infinity', '', 'Wed, 21 Oct 2015 07:28:00 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994',
    'application/json', 'text/html', 'application/json; charset=utf-8', 'cloudflare', 'Bearer realm="x"', 'req_123', `Bearer ${key}`, key),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 8 })
)
const bodyOf = (key: string): fc.Arbitrary<Buffer> => fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
  fc.constantFrom(
    { error: { message: `Incorrect API key provided: ${key}`, code: 'invalid_api_key' } },
    { error: { code: 'insufficient_quota', type: 'insufficient_quota' } },
    { error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } },
    { error: 'Fire Pass keys cannot list models' },
    { models: [] }, { data: [] }, { valid: false }, { valid: true }, { is_available: false }, { data: { limit_remaining: 0 } },
    { api_key_blocked: true }, { api_key_disabled: true }, { error: null }, { error: { message: null } }, { __proto__: { polluted: true } }, []
  ).map((value) => Buffer.from(JSON.stringify(value))),
  fc.constantFrom('<html>Attention Required! | Cloudflare Ray ID</html>', '{"error": not json', '{"models":[', '').map((text) => Buffer.from(text))
)
const STATUSES = [200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 402, 403, 404, 405, 407, 408, 409, 412, 418, 422, 429, 451, 498, 499, 500, 502, 503, 504, 520, 522, 524, 525, 530, 599]

interface Answer {
  status: number
  headers: Array<[string, string]>
  body: Buffer
  truncate: boolean
}

const answers = (key: string): fc.Arbitrary<Answer> => fc.record({
  status: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...STATUSES) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 599 }) }),
  headers: fc.array(fc.tuple(headerName, headerValue(key)), { maxLength: 8 }),
  body: bodyOf(key),
  truncate: fc.boolean()
})

/** A stand-in that replays whatever answer is set, byte for byte, and closes the connection. */
async function replay (t: Test): Promise<{ url: string, set: (answer: Answer) => void }> {
  let current: Answer = { status: 200, headers: [], body: Buffer.from('{}'), truncate: false }
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      const { status, headers, body, truncate } = current
      const lines = [`HTTP/1.1 ${status} Fuzz`, ...headers.map(([name, value]) => `${name}: ${value}`), `content-length: ${body.length + (truncate ? 64 : 0)}`, 'connection: close', '', '']
      socket.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, set: (answer) => { current = answer } }
}

/** The answer as the probe hands it to classify(): flattened headers, text, parsed JSON. */
function probeAnswer (answer: Answer): ProbeAnswer {
  const headers: Record<string, string> = {}
  for (const [name, value] of answer.headers) headers[name] = name in headers ? `${headers[name] as string}, ${value}` : value
  const text = answer.body.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: answer.status, headers, text, json, truncated: answer.truncate }
}

test('fuzz: classify() of every provider over generated answers always yields a cause from the table, without the key (faults #33-#46 Appendix 2)', async (t) => {
  const key = canary()
  const failures: string[] = []
  fc.assert(fc.property(answers(key), fc.constantFrom(...ALL), (answer, provider) => {
    const verdict = classify(probeAnswer(answer), provider, 'http://127.0.0.1:1')
    const problems = rendered(verdict, key)
    if (problems.length > 0) failures.push(`${provider.id} ${answer.status}: ${problems.join('; ')}`)
    return problems.length === 0
  }), { seed: SEED, numRuns: 1_500 })
  t.same(failures, [])
})

test('fuzz: parseRetryAfter over any text is undefined or a whole delay within [0, cap] (faults #38 #65)', async (t) => {
  const cap = 600_000
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.constantFrom('120', '0x10', '-3', 'Wed, 21 Oct 2015 07:28:00 GMT', '1e3', ''), { maxLength: 3 }).map((parts) => parts.join(', '))), fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), (value, date) => {
    const ms = parseRetryAfter(value, date, Date.now(), cap)
    return ms === undefined || (Number.isFinite(ms) && ms >= 0 && ms <= cap)
  }), { seed: SEED, numRuns: 2_000 })
  t.pass()
})

test('fuzz: the live probe (node:http and an undici Agent) against a stand-in replaying generated answers settles with a cause from the table (faults #22 #25 #26 #90)', async (t) => {
  const key = canary()
  const stand = await replay(t)
  const agent = new Agent()
  t.teardown(() => agent.close())
  const failures: string[] = []
  for (const dispatcher of [undefined, agent]) {
    await fc.assert(fc.asyncProperty(answers(key), async (answer) => {
      stand.set(answer)
      let verdict: Verdict
      try {
        verdict = await probe(stand.url, fireworks, key, { timeout: 300, retries: 0, signal: new AbortController().signal, random: () => 0, dispatcher })
      } catch (err) {
        failures.push(`probe threw on ${answer.status}: ${String(err)}`)
        return false
      }
      const problems = rendered(verdict, key)
      if (problems.length > 0) failures.push(`${answer.status}: ${problems.join('; ')}`)
      return problems.length === 0
    }), { seed: SEED, numRuns: 100 })
  }
  t.same(failures, [])
})

test('fuzz: a full plugin boot against generated answers boots or refuses cleanly and logs no piece of the key', async (t) => {
  const key = canary()
  const stand = await replay(t)
  await fc.assert(fc.asyncProperty(answers(key), fc.constantFrom('refuse', 'degrade', 'warn') as fc.Arbitrary<'refuse' | 'degrade' | 'warn'>, async (answer, onUnreachable) => {
    stand.set(answer)
    const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stand.url }], env: { FIREWORKS_API_KEY: key }, probe: { interval: 0, retries: 0, timeout: 300 }, onUnreachable })
    let error: { code?: unknown, message?: unknown } | undefined
    try {
      await app.ready()
    } catch (err) {
      error = err as typeof error
    }
    const report = app.keyguard.report()
    const ready = await app.inject('/readyz')
    await app.close()
    const check = report.checks.fireworks
    return (error === undefined || error.code === 'FST_KEYGUARD_BOOT_REFUSED') && check !== undefined && CAUSE_NAMES.includes(check.cause) &&
      [200, 503].includes(ready.statusCode) &&
      leaks([logs.text(), JSON.stringify(report), String(error?.message), ready.body].join('\n'), key).length === 0
  }), { seed: SEED, numRuns: 30 })
  t.pass('every generated answer booted or refused cleanly')
})

test('fuzz: nothing escaped as an unhandled rejection or an uncaught exception', async (t) => {
  await new Promise((resolve) => setTimeout(resolve, 50))
  process.off('unhandledRejection', onEscape)
  process.off('uncaughtExceptionMonitor', onEscape)
  t.same(escaped.map(String), [])
})
