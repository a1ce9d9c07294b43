import { test } from 'tap'
import type { Test } from 'tap'
import { probe } from '../lib/core/probe.js'
import { providers } from '../lib/providers/index.js'
import { errorText, field, jsonListOrWith, jsonWith } from '../lib/providers/shape.js'
import type { ProbeAnswer, ProviderSpec } from '../lib/providers/types.js'
import { stubFor } from './helpers/stub.js'
import type { Mode, Stub, StubOptions } from './helpers/stub.js'
import { render, settings } from './helpers/probe.js'

const GOOD = 'SYNTHETICgoodkey0000000000000000000000000'
const BAD = 'SYNTHETICrevokedkey000000000000000000abcd'

async function answerWith (t: Test, stub: Stub, provider: ProviderSpec, mode: Mode, options: Omit<StubOptions, 'mode'> = {}, key = GOOD) {
  stub.set(mode, options)
  const verdict = await probe(stub.url, provider, key, settings())
  render(t, verdict, provider, key, ['Fire Pass API keys', 'Missing scopes', 'exceeded your current quota', 'Incorrect'])
  return verdict
}

const AUTH: Record<string, [string, string]> = {
  gemini: ['x-goog-api-key', GOOD],
  anthropic: ['x-api-key', GOOD],
  'azure-openai': ['api-key', GOOD],
  elevenlabs: ['xi-api-key', GOOD],
  pinecone: ['api-key', GOOD],
  deepgram: ['authorization', `Token ${GOOD}`],
  assemblyai: ['authorization', GOOD],
  langsmith: ['x-api-key', GOOD]
}

const EXTRA: Record<string, Record<string, string>> = {
  anthropic: { 'anthropic-version': '2023-06-01' },
  pinecone: { 'x-pinecone-api-version': '2025-10' }
}

const REJECTED: Record<string, [number, string]> = {
  gemini: [400, 'api-key-invalid'],
  xai: [400, 'invalid-argument'],
  cohere: [200, 'valid-false']
}

for (const [id, provider] of Object.entries(providers) as Array<[string, ProviderSpec]>) {
  test(`${provider.label}: probe path, auth header, valid and invalid-key answers`, async (t) => {
    const stub = await stubFor(t, { keys: [GOOD] })
    const valid = await answerWith(t, stub, provider, 'auth')
    t.equal(valid.cause, 'valid')
    t.equal(valid.reason, 'ok')
    const req = stub.requests[0]
    t.equal(req?.path, provider.probe.path, 'probe path')
    t.equal(req?.method, provider.probe.method ?? 'GET')
    t.notMatch(req?.path, /[?&]key=/, 'never a key in the URL')
    // The header each provider's own docs or SDK name (not read back from lib/providers, so a wrong edit fails here).
    const [header, value] = AUTH[id] ?? ['authorization', `Bearer ${GOOD}`]
    t.equal(req?.headers[header], value, `key sent as ${header}`)
    if (header !== 'authorization') t.notOk(req?.headers.authorization, 'and not in Authorization')
    for (const [name, expected] of Object.entries(EXTRA[id] ?? {})) t.equal(req?.headers[name], expected, name)
    const rejected = await answerWith(t, stub, provider, 'auth', {}, BAD)
    const [status, reason] = REJECTED[id] ?? [401, 'unauthorized']
    t.equal(rejected.cause, 'rejected', 'the real invalid-key answer is rejected')
    t.equal(rejected.httpStatus, status)
    t.equal(rejected.reason, reason)
  })
}

test('a truncated long model list (over BODY_CAP) is still valid when its prefix has the shape', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
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
  const stub = await stubFor(t, { keys: [GOOD] })
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
  const stub = await stubFor(t, { keys: [GOOD] })
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
  const stub = await stubFor(t, { keys: [GOOD] })
  const v = await answerWith(t, stub, providers.deepseek, 'custom', { body: { is_available: false, balance_infos: [] } })
  t.same([v.cause, v.reason], ['limited', 'no-balance'])
})

test('xAI: disabled keys are rejected, blocked keys or teams forbidden, a 400 without the key is not a verdict', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
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
  const stub = await stubFor(t, { keys: [GOOD] })
  let v = await answerWith(t, stub, providers.groq, 'custom', { status: 498, body: { error: { message: 'flex capacity exceeded' } } })
  t.same([v.cause, v.reason], ['limited', 'capacity'])
  v = await answerWith(t, stub, providers.cohere, 'custom', { status: 498, body: { message: 'invalid token' } })
  t.same([v.cause, v.reason], ['rejected', 'invalid-token'])
})

test('Anthropic: a 429 without retry-after is a spend cap; with it, a rate limit', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  let v = await answerWith(t, stub, providers.anthropic, 'custom', { status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'limit' } } })
  t.same([v.cause, v.reason], ['limited', 'spend-cap'])
  v = await answerWith(t, stub, providers.anthropic, '429', { retryAfter: '5' })
  t.same([v.cause, v.reason, v.retryAfterMs], ['limited', 'rate-limited', 5000])
})

test('Gemini: FAILED_PRECONDITION is billing, API_KEY_SERVICE_BLOCKED forbidden, "API key not valid" rejected', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
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
  const stub = await stubFor(t, { keys: [GOOD] })
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

/** The answer's verdict and its rendering (message and fix), through a real probe of the stand-in. */
async function judged (t: Test, stub: Stub, provider: ProviderSpec, options: Omit<StubOptions, 'mode'>) {
  const verdict = await answerWith(t, stub, provider, 'custom', options)
  return { verdict, ...render(t, verdict, provider, GOOD, ['Request not allowed', 'Expected OAuth 2']) }
}

test('Anthropic: a 404 with its own not_found_error is a rejected key; a 404 without it is a wrong baseUrl', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const p = providers.anthropic
  const own = await judged(t, stub, p, { status: 404, body: { type: 'error', error: { type: 'not_found_error', message: 'Not found' }, request_id: 'req_011' } })
  t.same([own.verdict.cause, own.verdict.reason, own.verdict.httpStatus], ['rejected', 'unknown-key', 404])
  t.match(own.message, /Anthropic does not know ANTHROPIC_API_KEY_FILE \(\/run\/secrets\/x\) or has disabled it \(fp_…0000, HTTP 404\)/)
  t.equal(own.fix, 'Create a new Anthropic key at https://console.anthropic.com/settings/keys and put it in ANTHROPIC_API_KEY.')
  for (const [name, options] of [
    ['another JSON envelope', { status: 404, body: { error: { message: 'Not found' } } }],
    ['an HTML page', { status: 404, body: '<html>404 Not Found</html>', contentType: 'text/html' }],
    ['an error of another type', { status: 404, body: { type: 'error', error: { type: 'invalid_request_error' } } }]
  ] as const) {
    const other = await judged(t, stub, p, options)
    t.same([other.verdict.cause, other.verdict.reason], ['unreachable', 'not-found'], name)
    t.match(other.fix, /Check baseUrl/)
  }
})

test('Anthropic and OpenAI: a region or account block is forbidden, and the message says it is not the key', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const block = await judged(t, stub, providers.anthropic, { status: 403, body: { error: { type: 'forbidden', message: 'Request not allowed' } } })
  t.same([block.verdict.cause, block.verdict.reason], ['forbidden', 'region-blocked'])
  t.match(block.message, /region or account block; it is not the fault of the key in ANTHROPIC_API_KEY_FILE/)
  t.match(block.fix, /serves this host's region .* the key needs no change\.$/)
  const permission = await judged(t, stub, providers.anthropic, { status: 403, body: { type: 'error', error: { type: 'permission_error', message: 'no' } } })
  t.same([permission.verdict.cause, permission.verdict.reason], ['forbidden', 'forbidden'], 'a permission_error stays about the key')
  const country = await judged(t, stub, providers.openai, { status: 403, body: { error: { code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported', type: 'request_forbidden' } } })
  t.same([country.verdict.cause, country.verdict.reason], ['forbidden', 'region-blocked'])
  const waf = await answerWith(t, stub, providers.anthropic, '403waf')
  t.same([waf.cause, waf.reason], ['unreachable', 'cdn'], 'an HTML block page stays a CDN page')
})

test('Gemini: 401 ACCESS_TOKEN_TYPE_UNSUPPORTED is a refused key type, with the restriction as the fix', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const body = {
    error: {
      code: 401,
      message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      status: 'UNAUTHENTICATED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', metadata: { service: 'generativelanguage.googleapis.com' } }]
    }
  }
  const refused = await judged(t, stub, providers.gemini, { status: 401, body })
  t.same([refused.verdict.cause, refused.verdict.reason], ['rejected', 'key-type-unsupported'])
  t.match(refused.message, /no longer accepts the type of key .*The key is not revoked; its type is refused\./)
  t.match(refused.fix, /^Restrict the key to the Generative Language API .*or create a new-style key at https:\/\/aistudio\.google\.com\/app\/apikey and put it in GEMINI_API_KEY\.$/)
  t.notMatch(refused.fix, /Create a new/)
  const plain = await judged(t, stub, providers.gemini, { status: 401, body: { error: { code: 401, status: 'UNAUTHENTICATED', message: 'x' } } })
  t.same([plain.verdict.cause, plain.verdict.reason], ['rejected', 'unauthorized'], 'another 401 is the generic rejection')
})

test('OpenRouter: a management (provisioning) key cannot call models', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  for (const flag of ['is_management_key', 'is_provisioning_key']) {
    const key = await judged(t, stub, providers.openrouter, { body: { data: { label: 'k', limit: null, limit_remaining: null, usage: 0, is_management_key: false, is_provisioning_key: false, [flag]: true } } })
    t.same([key.verdict.cause, key.verdict.reason], ['forbidden', 'management-key'], flag)
    t.match(key.message, /OpenRouter reports OPENROUTER_API_KEY_FILE .* as a management \(provisioning\) key .*cannot call models/)
    t.equal(key.fix, 'Create an API key (not a management key) at https://openrouter.ai/settings/keys and put it in OPENROUTER_API_KEY.')
  }
  const plain = await answerWith(t, stub, providers.openrouter, 'custom', { body: { data: { label: 'k', is_management_key: false, is_provisioning_key: false, limit_remaining: null } } })
  t.same([plain.cause, plain.reason], ['valid', 'ok'])
})

test('Pinecone: 403 FORBIDDEN for a restricted key is valid (restricted-key); another 403 is forbidden', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  for (const code of ['FORBIDDEN', 'PERMISSION_DENIED']) {
    const restricted = await judged(t, stub, providers.pinecone, { status: 403, body: { status: 403, error: { code, message: 'Missing permissions' } } })
    t.same([restricted.verdict.cause, restricted.verdict.reason], ['valid', 'restricted-key'], code)
    t.match(restricted.message, /accepted .* as a restricted key .*data-plane routes/)
    t.match(restricted.fix, /^None needed/)
  }
  const other = await answerWith(t, stub, providers.pinecone, 'custom', { status: 403, body: { status: 403, error: { code: 'OTHER' } } })
  t.same([other.cause, other.reason], ['forbidden', 'forbidden'])
})

test('ElevenLabs: a key without user_read is valid (scoped-key); 400 invalid_api_key is rejected', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  for (const status of [400, 401]) {
    const scoped = await judged(t, stub, providers.elevenlabs, { status, body: { detail: { status: 'missing_permissions', message: 'The API key you used is missing the permission user_read to execute this operation.' } } })
    t.same([scoped.verdict.cause, scoped.verdict.reason], ['valid', 'scoped-key'], `HTTP ${status}`)
    t.match(scoped.message, /limited to some endpoints/)
    t.match(scoped.fix, /^None needed/)
  }
  const bad = await judged(t, stub, providers.elevenlabs, { status: 400, body: { detail: { status: 'invalid_api_key', message: 'Invalid API key' } } })
  t.same([bad.verdict.cause, bad.verdict.reason], ['rejected', 'unauthorized'])
  t.equal(bad.fix, 'Create a new ElevenLabs key at https://elevenlabs.io/app/settings/api-keys and put it in ELEVENLABS_API_KEY.')
  const other400 = await answerWith(t, stub, providers.elevenlabs, '400')
  t.same([other400.cause, other400.reason], ['unreachable', 'unexpected-status'], 'a 400 without the key status says nothing')
})

test('new providers: the real invalid-key answers and fixes name the provider\'s own dashboard', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const cases: Array<[ProviderSpec, RegExp]> = [
    [providers['azure-openai'], /portal\.azure\.com/],
    [providers.perplexity, /perplexity\.ai\/settings\/api/],
    [providers.cerebras, /cloud\.cerebras\.ai/],
    [providers.elevenlabs, /elevenlabs\.io/],
    [providers.pinecone, /app\.pinecone\.io/],
    [providers.nvidia, /build\.nvidia\.com/],
    [providers.deepgram, /console\.deepgram\.com/],
    [providers.assemblyai, /assemblyai\.com/],
    [providers.langsmith, /smith\.langchain\.com/]
  ]
  for (const [provider, dashboard] of cases) {
    stub.set('auth')
    const verdict = await probe(stub.url, provider, BAD, settings())
    const { message, fix } = render(t, verdict, provider, BAD, ['Invalid credentials', 'Access denied', 'Invalid token', 'openresty'])
    t.same([verdict.cause, verdict.reason, verdict.httpStatus], ['rejected', 'unauthorized', 401], provider.id)
    t.match(message, /invalid, revoked or expired/)
    t.match(fix, dashboard, `${provider.id}: the fix points at its dashboard`)
  }
})

test('Anthropic: a not_found_error naming a model or a file is about the request, never the key', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  for (const message of ['model: claude-3-5-sonnet-20990101', 'File not found: file_011', 'The model was not found']) {
    const v = await answerWith(t, stub, providers.anthropic, 'custom', { status: 404, body: { type: 'error', error: { type: 'not_found_error', message } } })
    t.same([v.cause, v.reason], ['unreachable', 'not-found'], message)
  }
  const v = await answerWith(t, stub, providers.anthropic, 'custom', { status: 404, body: { type: 'error', error: { type: 'not_found_error' } } })
  t.same([v.cause, v.reason], ['rejected', 'unknown-key'], 'no message at all')
})
