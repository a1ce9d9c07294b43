import { test } from 'tap'
import type { Test } from 'tap'
import { probe } from '../lib/probe.js'
import { providers } from '../lib/providers/index.js'
import { errorText, field, jsonListOrWith, jsonWith } from '../lib/providers/shape.js'
import type { ProbeAnswer, ProviderSpec } from '../lib/providers/types.js'
import { startStub } from './helpers/stub.js'
import type { Mode, Stub, StubOptions } from './helpers/stub.js'
import { render, settings } from './helpers/probe.js'

const GOOD = 'SYNTHETICgoodkey0000000000000000000000000'
const BAD = 'SYNTHETICrevokedkey000000000000000000abcd'

async function stubFor (t: Test): Promise<Stub> {
  const stub = await startStub({ mode: 'auth', keys: [GOOD] })
  t.teardown(() => stub.close())
  return stub
}

async function answerWith (t: Test, stub: Stub, provider: ProviderSpec, mode: Mode, options: Omit<StubOptions, 'mode'> = {}, key = GOOD) {
  stub.set(mode, options)
  const verdict = await probe(stub.url, provider, key, settings())
  render(t, verdict, provider, key, ['Fire Pass API keys', 'Missing scopes', 'exceeded your current quota', 'Incorrect'])
  return verdict
}

const REJECTED: Record<string, [number, string]> = {
  gemini: [400, 'api-key-invalid'],
  xai: [400, 'invalid-argument'],
  cohere: [200, 'valid-false']
}

for (const [id, provider] of Object.entries(providers) as Array<[string, ProviderSpec]>) {
  test(`${provider.label}: probe path, auth header, valid and invalid-key answers`, async (t) => {
    const stub = await stubFor(t)
    const valid = await answerWith(t, stub, provider, 'auth')
    t.equal(valid.cause, 'valid')
    t.equal(valid.reason, 'ok')
    const req = stub.requests[0]
    t.equal(req?.path, provider.probe.path, 'probe path')
    t.equal(req?.method, provider.probe.method ?? 'GET')
    t.notMatch(req?.path, /[?&]key=/, 'never a key in the URL')
    if (id === 'gemini') {
      t.equal(req?.headers['x-goog-api-key'], GOOD)
      t.notOk(req?.headers.authorization)
    } else if (id === 'anthropic') {
      t.equal(req?.headers['x-api-key'], GOOD)
      t.equal(req?.headers['anthropic-version'], '2023-06-01')
      t.notOk(req?.headers.authorization)
    } else {
      t.equal(req?.headers.authorization, `Bearer ${GOOD}`)
    }
    const rejected = await answerWith(t, stub, provider, 'auth', {}, BAD)
    const [status, reason] = REJECTED[id] ?? [401, 'unauthorized']
    t.equal(rejected.cause, 'rejected', 'the real invalid-key answer is rejected')
    t.equal(rejected.httpStatus, status)
    t.equal(rejected.reason, reason)
  })
}

test('a truncated long model list (over BODY_CAP) is still valid when its prefix has the shape', async (t) => {
  const stub = await stubFor(t)
  for (const id of ['fireworks', 'gemini', 'openai', 'anthropic', 'groq', 'mistral', 'together'] as const) {
    const verdict = await answerWith(t, stub, providers[id], 'longlist')
    t.equal(verdict.cause, 'valid', id)
  }
  const entries = Array.from({ length: 2000 }, (_, i) => `{"id":"model-${i}","object":"model"}`).join(',')
  t.equal((await answerWith(t, stub, providers.together, 'custom', { body: `[${entries}]` })).cause, 'valid', 'Together\'s bare array, cut')
  t.equal((await answerWith(t, stub, providers.together, 'custom', { body: [{ id: 'm' }] })).cause, 'valid', 'Together\'s bare array')
  t.equal((await answerWith(t, stub, providers.together, 'custom', { body: `{"error":"${'x'.repeat(40_000)}"}` })).cause, 'unreachable', 'a cut body without the list')
  t.equal((await answerWith(t, stub, providers.together, 'captive')).cause, 'unreachable', 'HTML is never a model list')
  t.equal((await answerWith(t, stub, providers.openai, 'custom', { body: `{"error":"mentions \\"data\\" ${'x'.repeat(40_000)}"}` })).cause, 'unreachable', 'the key name inside a string is not the key')
})

test('Fireworks: Fire Pass 403 is valid, another 403 is forbidden, 412 is limited', async (t) => {
  const stub = await stubFor(t)
  const p = providers.fireworks
  let v = await answerWith(t, stub, p, 'custom', { status: 403, body: { error: { message: 'Fire Pass API keys are not authorized for this route.', code: 'FORBIDDEN', type: 'error' } } })
  t.same([v.cause, v.reason], ['valid', 'fire-pass'])
  v = await answerWith(t, stub, p, 'custom', { status: 403, body: 'Fire Pass API keys are not authorized for this route.', contentType: 'text/plain' })
  t.same([v.cause, v.reason], ['valid', 'fire-pass'], 'a plain-text body is read too')
  v = await answerWith(t, stub, p, '403json')
  t.same([v.cause, v.reason], ['forbidden', 'forbidden'])
  v = await answerWith(t, stub, p, 'custom', { status: 412, body: { error: { code: 'PRECONDITION_FAILED', message: 'Account suspended' } } })
  t.same([v.cause, v.reason], ['limited', 'billing'])
})

test('OpenAI: a restricted key or a blocked IP is forbidden; insufficient_quota is limited', async (t) => {
  const stub = await stubFor(t)
  const p = providers.openai
  let v = await answerWith(t, stub, p, 'custom', { status: 401, body: { error: { message: 'You have insufficient permissions for this operation. Missing scopes: model.request.', type: 'invalid_request_error' } } })
  t.same([v.cause, v.reason], ['forbidden', 'missing-scope'])
  v = await answerWith(t, stub, p, 'custom', { status: 401, body: { error: { message: 'IP 203.0.113.9 not authorized for this organization', type: 'invalid_request_error' } } })
  t.same([v.cause, v.reason], ['forbidden', 'ip-not-allowed'])
  v = await answerWith(t, stub, p, '429quota')
  t.same([v.cause, v.reason], ['limited', 'quota'])
  v = await answerWith(t, stub, p, '429', { retryAfter: '3' })
  t.same([v.cause, v.reason, v.retryAfterMs], ['limited', 'rate-limited', 3000])
})

test('DeepSeek: is_available:false is limited (no balance)', async (t) => {
  const stub = await stubFor(t)
  const v = await answerWith(t, stub, providers.deepseek, 'custom', { body: { is_available: false, balance_infos: [] } })
  t.same([v.cause, v.reason], ['limited', 'no-balance'])
})

test('xAI: disabled keys are rejected, blocked keys or teams forbidden, a 400 without the key is not a verdict', async (t) => {
  const stub = await stubFor(t)
  const p = providers.xai
  const base = { redacted_api_key: 'xai-…', api_key_blocked: false, api_key_disabled: false, team_blocked: false }
  let v = await answerWith(t, stub, p, 'custom', { body: { ...base, api_key_disabled: true } })
  t.same([v.cause, v.reason], ['rejected', 'disabled'])
  v = await answerWith(t, stub, p, 'custom', { body: { ...base, api_key_blocked: true } })
  t.same([v.cause, v.reason], ['forbidden', 'blocked'])
  v = await answerWith(t, stub, p, 'custom', { body: { ...base, team_blocked: true } })
  t.same([v.cause, v.reason], ['forbidden', 'blocked'])
  v = await answerWith(t, stub, p, 'custom', { status: 400, body: '<html>400 Bad Request</html>', contentType: 'text/html' })
  t.same([v.cause, v.reason], ['unreachable', 'unexpected-status'])
})

test('Groq: 498 (flex capacity) is limited; Cohere: 498 is an invalid token', async (t) => {
  const stub = await stubFor(t)
  let v = await answerWith(t, stub, providers.groq, 'custom', { status: 498, body: { error: { message: 'flex capacity exceeded' } } })
  t.same([v.cause, v.reason], ['limited', 'capacity'])
  v = await answerWith(t, stub, providers.cohere, 'custom', { status: 498, body: { message: 'invalid token' } })
  t.same([v.cause, v.reason], ['rejected', 'invalid-token'])
})

test('Anthropic: a 429 without retry-after is a spend cap; with it, a rate limit', async (t) => {
  const stub = await stubFor(t)
  let v = await answerWith(t, stub, providers.anthropic, 'custom', { status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'limit' } } })
  t.same([v.cause, v.reason], ['limited', 'spend-cap'])
  v = await answerWith(t, stub, providers.anthropic, '429', { retryAfter: '5' })
  t.same([v.cause, v.reason, v.retryAfterMs], ['limited', 'rate-limited', 5000])
})

test('Gemini: FAILED_PRECONDITION is billing, API_KEY_SERVICE_BLOCKED forbidden, "API key not valid" rejected', async (t) => {
  const stub = await stubFor(t)
  const p = providers.gemini
  let v = await answerWith(t, stub, p, 'custom', { status: 400, body: { error: { code: 400, message: 'User location is not supported', status: 'FAILED_PRECONDITION' } } })
  t.same([v.cause, v.reason], ['limited', 'billing'])
  v = await answerWith(t, stub, p, 'custom', { status: 403, body: { error: { code: 403, message: 'Requests to this API are blocked.', status: 'PERMISSION_DENIED', details: [{ reason: 'API_KEY_SERVICE_BLOCKED' }] } } })
  t.same([v.cause, v.reason], ['forbidden', 'service-blocked'])
  v = await answerWith(t, stub, p, 'custom', { status: 400, body: { error: { code: 400, message: 'API Key not found. Please pass a valid API key.', status: 'INVALID_ARGUMENT' } } })
  t.same([v.cause, v.reason], ['rejected', 'api-key-invalid'])
  v = await answerWith(t, stub, p, 'custom', { status: 403, body: { error: { code: 403, message: 'Permission denied', status: 'PERMISSION_DENIED' } } })
  t.same([v.cause, v.reason], ['forbidden', 'forbidden'])
  v = await answerWith(t, stub, p, '400')
  t.same([v.cause, v.reason], ['unreachable', 'unexpected-status'])
})

test('OpenRouter: no remaining credit is limited; remaining credit is valid', async (t) => {
  const stub = await stubFor(t)
  let v = await answerWith(t, stub, providers.openrouter, 'custom', { body: { data: { label: 'k', limit: 10, limit_remaining: 0, usage: 10 } } })
  t.same([v.cause, v.reason], ['limited', 'no-credit'])
  v = await answerWith(t, stub, providers.openrouter, 'custom', { body: { data: { label: 'k', limit: 10, limit_remaining: 4, usage: 6 } } })
  t.same([v.cause, v.reason], ['valid', 'ok'])
})

const a = (text: string, headers: Record<string, string> = {}, truncated = false): ProbeAnswer => {
  let json: unknown
  try { json = truncated ? undefined : JSON.parse(text) } catch {}
  return { status: 200, headers, text, json, truncated }
}

test('shape helpers', async (t) => {
  t.ok(jsonWith()(a('{}')), 'any object')
  t.notOk(jsonWith()(a('"text"')))
  t.notOk(jsonWith('data')(a('[{"data":1}]')), 'an array is not the object')
  t.ok(jsonWith('data')(a('{"data":[]}', { 'content-type': 'application/json; charset=utf-8' })))
  t.ok(jsonWith('data')(a('{"data":[]}', { 'content-type': 'application/vnd.api+json' })))
  t.notOk(jsonWith('data')(a('{"data":[]}', { 'content-type': 'text/plain' })))
  t.ok(jsonWith('data')(a('  {"data": [', {}, true)))
  t.notOk(jsonWith('data')(a('<html>"data":', {}, true)))
  t.ok(jsonListOrWith('data')(a('[]')))
  t.ok(jsonListOrWith('data')(a('{"data":[]}')))
  t.notOk(jsonListOrWith('data')(a('{"models":[]}')))
  t.ok(jsonListOrWith('data')(a(' [{"id":', {}, true)))
  t.ok(jsonListOrWith('data')(a('{"object":"list","data":[', {}, true)))
  t.notOk(jsonListOrWith('data')(a('{"error":', {}, true)))
  t.equal(field({ a: { b: 1 } }, 'a', 'b'), 1)
  t.equal(field({ a: 1 }, 'a', 'b'), undefined)
  t.equal(field(null, 'a'), undefined)
  t.equal(errorText(a('{"error":{"message":"m","code":"c","type":"t","status":"s"}}')), 'm c t s')
  t.equal(errorText(a('{"error":"e","message":"m","detail":"d","code":"c"}')), 'e m d c')
  t.equal(errorText(a('{"other":1}')), '{"other":1}', 'no envelope: the raw text')
  t.equal(errorText(a('plain words')), 'plain words')
})
