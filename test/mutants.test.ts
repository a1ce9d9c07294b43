// Tests added to kill mutants of `npm run mutate` (scripts/mutants.ts) that the suite let survive.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import OpenAI from 'openai'
import { test } from 'tap'
import type { Test } from 'tap'
import { inspect, KEY_LENGTH } from '../lib/core/inspect.js'
import { aggregate } from '../lib/core/report.js'
import { providers } from '../lib/providers/index.js'
import type { ProviderSpec } from '../lib/providers/types.js'
import { statusOf } from '../lib/core/causes.js'
import { classify } from '../lib/core/classify.js'
import type { Cause } from '../lib/core/causes.js'
import { booted, until } from './helpers/app.js'
import { keyOf, stubFor } from './helpers/stub.js'

const OLD = 'fw_' + 'Ol7Dk3Yq9Wm2Zt5Rx8Bn4Hc6Jv1Ps0G'
const NEW = 'fw_' + 'Nw4Ek8Uq2Lm7Xt3Rb9Vn5Hj1Cz6Pd0F'

/** A provider stand-in that answers 200 to `OLD` and 503 to anything else (the new key cannot be judged). */
async function splitStandIn (t: Test): Promise<string> {
  const server = createServer((req, res) => {
    const ok = keyOf(req.headers) === OLD
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
    res.end(ok ? '{"models":[]}' : '{"error":{"message":"Service Overloaded"}}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

// Mutant cause-unreachable-fail: validate-then-swap reads the cause table's own status of
// `unreachable` (warn): a rotated-in key the provider could not judge is taken, not refused.
test('a rotated-in key whose probe is unreachable replaces the old key (it is not refused)', async (t) => {
  const url = await splitStandIn(t)
  const file = join(t.testdir({ key: OLD }), 'key')
  const { app } = await booted(t, {
    keys: [{ provider: 'fireworks', baseUrl: url }],
    env: { FIREWORKS_API_KEY_FILE: file },
    probe: { interval: 0, retries: 0 }
  }, { logger: false })
  t.equal(app.keyguard.report().checks.fireworks?.cause, 'valid')
  writeFileSync(file, NEW)
  const report = await app.keyguard.recheck()
  t.match(report.checks.fireworks, { cause: 'unreachable', status: 'warn' })
  t.equal(app.keyguard.key(), NEW, 'the new key is in use')
  t.notOk(report.checks.fireworks?.notes?.some((note) => /refused|kept/i.test(note)), 'no rotation-refused note')
})

// Mutant status-unknown-passes: a cause outside the table (a prototype member, a typo) fails closed.
test('statusOf: a cause that is no row of the table fails, under every policy', async (t) => {
  for (const policy of ['warn', 'degrade', 'refuse'] as const) {
    for (const cause of ['constructor', 'toString', '__proto__', 'nope']) t.equal(statusOf(cause as Cause, policy), 'fail', `${cause}, ${policy}`)
  }
})

// Mutant aggregate-fail-overridden: one failing key fails the report whatever comes after it.
test('one failing key fails readiness even when a later key only warns', async (t) => {
  t.equal(aggregate(['fail', 'warn']), 'fail')
  t.equal(aggregate(['warn', 'fail', 'pass']), 'fail')
  const stub = await stubFor(t, { keys: [] })
  const { app } = await booted(t, {
    keys: [
      { name: 'first', provider: 'fireworks', value: OLD, baseUrl: stub.url },
      // Port 1 on loopback refuses at once: the second key is unreachable, a warning.
      { name: 'second', provider: 'fireworks', value: NEW, baseUrl: 'http://127.0.0.1:1' }
    ],
    env: {},
    onInvalid: 'degrade',
    probe: { interval: 0, retries: 0 }
  }, { logger: false })
  const { checks, status } = app.keyguard.report()
  t.same([checks.first?.status, checks.second?.status, status], ['fail', 'warn', 'fail'])
  t.equal((await app.inject('/readyz')).statusCode, 503)
})

// Mutant inspect-too-long-boundary: the longest key allowed is accepted; one character more is not.
test('inspect: a key of exactly the maximum length passes, one more character is too long', async (t) => {
  const own = providers.fireworks
  const max = own.key?.maxLength ?? KEY_LENGTH.max
  const body = (n: number): string => Array.from({ length: n }, (_, i) => 'aZ3kQ9xW'[i % 8]).join('')
  const longest = 'fw_' + body(max - 3)
  t.equal(longest.length, max)
  t.match(inspect(longest, own, Object.values(providers)), { ok: true })
  t.match(inspect(longest + 'a', own, Object.values(providers)), { ok: false, verdict: { reason: 'too-long' } })
})

// Mutant inspect-own-prefix-first: a provider's own prefix wins over a shipped provider's, so a gateway
// that issues OpenAI-style keys (LiteLLM's proxy, say) can declare them without being told "wrong provider".
test('inspect: a custom provider that declares a shipped prefix owns keys with it', async (t) => {
  const gateway: ProviderSpec = { ...providers.openai, id: 'gateway', label: 'Gateway', env: 'GATEWAY_API_KEY', key: { prefixes: ['sk-proj-'] } }
  const key = 'sk-proj-' + 'Gq7Tz2Wm9Lk4Xc8Rn5Hj3Vd6Bp1'
  t.match(inspect(key, gateway, [...Object.values(providers), gateway]), { ok: true, key })
  t.match(inspect(key, providers.fireworks, Object.values(providers)), { ok: false, verdict: { reason: 'wrong-provider', facts: { other: 'OpenAI' } } })
})

const chat = (client: OpenAI): Promise<unknown> => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })

// Mutant reply-fault-any-key: with several keys, a fault that no key can be tied to (an unguarded
// upstream, no gate) is the application's error, not keyguard's to convert.
test('problem.unavailable: a 503 from an unguarded upstream, with two keys and no gate, is left alone', async (t) => {
  const stub = await stubFor(t, { keys: [OLD, NEW] })
  const other = await stubFor(t, { mode: '503' })
  const { app } = await booted(t, {
    keys: [{ name: 'a', provider: 'fireworks', value: OLD, baseUrl: stub.url }, { name: 'b', provider: 'fireworks', value: NEW, baseUrl: stub.url + '/b' }],
    env: {},
    probe: { interval: 0 },
    problem: { unavailable: true }
  }, { logger: false }, (app) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: 'sk-other', baseURL: other.url + '/v1', maxRetries: 0 })))
  })
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 503)
  t.notMatch(String(res.headers['content-type']), /problem\+json/, 'not a keyguard problem')
})

// Mutant reply-rejected-outranks: a rejected key outranks an unavailable answer seen earlier in the request.
test('problem.unavailable: a 401 after a 503 in the same request is answered as the rejection', async (t) => {
  const stub = await stubFor(t, { mode: '503', keys: [OLD] })
  const other = await stubFor(t, { keys: [] })
  const { app } = await booted(t, {
    keys: [{ provider: 'fireworks', value: OLD, baseUrl: stub.url }],
    env: {},
    probe: { interval: 0 },
    problem: { unavailable: true }
  }, { logger: false }, (app) => {
    app.post('/chat', async () => {
      // The watched client sees the 503; the 401 comes from a client keyguard does not watch.
      await app.keyguard.fetch(stub.url + '/inference/v1/chat/completions', { method: 'POST', body: '{}' }).then((res) => res.text())
      return chat(new OpenAI({ apiKey: OLD, baseURL: other.url + '/v1', maxRetries: 0 }))
    })
  })
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED')
})

// Mutant reply-no-suspect: an SDK that keyguard does not watch (its own fetch) still gets the key
// rechecked when its 401 is recognised in onError.
test('a 401 recognised in onError alone rechecks the key: readiness flips', async (t) => {
  const stub = await stubFor(t, { keys: [OLD] })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', value: OLD, baseUrl: stub.url }], env: {}, probe: { interval: 0 } }, { logger: false }, (app) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: OLD, baseURL: stub.url + '/inference/v1', maxRetries: 0 })))
  })
  stub.set('auth', { keys: [] })
  t.equal((await app.inject({ method: 'POST', url: '/chat' })).statusCode, 502)
  t.ok(await until(async () => (await app.inject('/readyz')).statusCode === 503), 'the recheck found the key rejected')
})

// Mutant reply-expected-status: Fastify logs the status keyguard will send (503 for a 429), not the conversion's 502.
test('a 429 turned into 503 is logged as 503', async (t) => {
  const stub = await stubFor(t, { keys: [OLD] })
  const { app, logs } = await booted(t, { keys: [{ provider: 'fireworks', value: OLD, baseUrl: stub.url }], env: {}, probe: { interval: 0 }, problem: { unavailable: true } }, {}, (app) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: OLD, baseURL: stub.url + '/inference/v1', maxRetries: 0 })))
  })
  stub.set('429', { keys: [OLD] })
  t.equal((await app.inject({ method: 'POST', url: '/chat' })).statusCode, 503)
  const statuses = logs.records().flatMap((r) => {
    const status = (r.res as { statusCode?: number } | undefined)?.statusCode ?? (r.err as { statusCode?: number } | undefined)?.statusCode
    return status === undefined ? [] : [status]
  })
  t.ok(statuses.length > 0)
  t.same([...new Set(statuses)], [503])
})

// Mutant send-401-unavailable: the application's own 401 (its auth) after an unavailable upstream answer stays a 401.
test("the application's own 401 after an upstream 503 in the same request is left alone", async (t) => {
  const stub = await stubFor(t, { mode: '503', keys: [OLD] })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', value: OLD, baseUrl: stub.url }], env: {}, probe: { interval: 0 }, problem: { unavailable: true } }, { logger: false }, (app) => {
    app.post('/chat', async (_request, reply) => {
      await app.keyguard.fetch(stub.url + '/inference/v1/chat/completions', { method: 'POST', body: '{}' }).then((res) => res.text())
      return reply.code(401).send({ error: 'log in first' })
    })
  })
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 401)
  t.same(res.json(), { error: 'log in first' })
})

// Mutant retry-after-any-status: Retry-After goes with a 503 only; a rejected key's 502 has none.
test('the 502 of a rejected key carries no Retry-After', async (t) => {
  const stub = await stubFor(t, { keys: [OLD] })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', value: OLD, baseUrl: stub.url }], env: {}, probe: { interval: 0 } }, { logger: false }, (app) => {
    app.post('/chat', async () => chat(new OpenAI({ apiKey: OLD, baseURL: stub.url + '/inference/v1', maxRetries: 0, fetch: app.keyguard.fetch })))
  })
  stub.set('auth', { keys: [] })
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 502)
  t.equal(res.headers['retry-after'], undefined)
})

// Mutant blocking-warn: a key that only warns (unreachable under onUnreachable: 'warn') does not close its routes.
test('a gated route stays open while its key only warns', async (t) => {
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', value: OLD, baseUrl: 'http://127.0.0.1:1' }], env: {}, probe: { interval: 0, retries: 0 } }, { logger: false }, (app) => {
    app.get('/work', { config: { keyguard: 'fireworks' } }, async () => 'served')
  })
  t.equal(app.keyguard.report().checks.fireworks?.status, 'warn')
  const res = await app.inject('/work')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'served')
})

// Mutant classify-refined-any: a custom classify may refine to valid, rejected, forbidden, limited or
// unreachable only; any other cause of the table is the provider code's fault, never taken as is.
test('classify: a custom classify that returns missing or pending is a provider-code fault', async (t) => {
  for (const cause of ['missing', 'malformed', 'pending', 'unchecked']) {
    const spec: ProviderSpec = { ...providers.fireworks, classify: () => ({ cause: cause as 'valid' }) }
    const faults: Error[] = []
    const verdict = classify({ status: 200, headers: {}, text: '{}', json: {}, truncated: false }, spec, 'http://127.0.0.1', (err) => faults.push(err))
    t.match(verdict, { cause: 'unreachable', reason: 'provider-code' }, cause)
    t.equal(faults.length, 1)
  }
})

// Mutants rejects-5xx and rejects-any-cause: only a 4xx that the provider's own rules call `rejected`
// is a rejection of the key; a 5xx or another verdict passes through untouched.
test("the watching client takes only a 4xx its provider's classify calls rejected for a rejection", async (t) => {
  const stub = await stubFor(t, { keys: [OLD] })
  const acme: ProviderSpec = {
    ...providers.fireworks,
    id: 'acme',
    label: 'Acme',
    env: 'ACME_API_KEY',
    classify: (answer) => answer.status >= 500 ? { cause: 'rejected' } : answer.status >= 400 ? { cause: 'limited' } : undefined
  }
  const { app } = await booted(t, { keys: [{ provider: acme, value: OLD, baseUrl: stub.url }], env: {}, probe: { interval: 0 } }, { logger: false }, (app) => {
    app.post('/chat', async (_request, reply) => {
      const res = await app.keyguard.fetch(stub.url + '/inference/v1/chat/completions', { method: 'POST', body: '{}' })
      return reply.code(res.status).send(await res.text())
    })
  })
  for (const mode of ['500', '400'] as const) {
    stub.set(mode, { keys: [OLD] })
    const res = await app.inject({ method: 'POST', url: '/chat' })
    t.equal(res.statusCode, Number(mode), `${mode} passes through`)
    t.notMatch(String(res.headers['content-type']), /problem\+json/)
  }
  t.equal((await app.inject('/readyz')).statusCode, 200, 'the key is not suspected')
})
