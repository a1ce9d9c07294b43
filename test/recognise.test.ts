import { createRequire } from 'node:module'
import { APICallError, LoadAPIKeyError } from '@ai-sdk/provider'
import { ApiError as GoogleApiError } from '@google/genai'
import { HubApiError } from '@huggingface/hub'
import { InferenceClientProviderApiError } from '@huggingface/inference'
import { Cohere } from 'cohere-ai'
import { httpErrors } from '@fastify/sensible'
import OpenAI from 'openai'
import { test } from 'tap'
import { errors } from 'undici'
import { recognise, recogniseFault } from '../lib/upstream/sdk.js'
import { sanitise } from '../lib/upstream/sanitise.js'
import { targetOf } from '../lib/upstream/targets.js'
import { appWith, canary } from './helpers/app.js'
import { startStub } from './helpers/stub.js'
import { providers } from '../lib/providers/index.js'

/** http-errors (no types of its own; @fastify/sensible and many apps throw its errors). */
const createHttpError = createRequire(import.meta.url)('http-errors') as (status: number, message: string, props: object) => Error & { status: number }

const KEY = 'fw_' + 'q7Zt4Vb9Lm2Xc8Rn5Hj3Wd6Kp1Fs0Gy'
const MASKED = `${KEY.slice(0, 8)}****${KEY.slice(-4)}`
const OPENAI_BODY = { error: { message: `Incorrect API key provided: ${MASKED}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }

/** A fetch `Headers` as the Stainless SDKs hold them. */
const headers = (init: Record<string, string> = {}): Headers => new Headers({ 'content-type': 'application/json', ...init })

/** The Stainless error classes of openai-node, built the way the SDK builds them. */
const openaiError = (status: number, init: Record<string, string> = { 'x-request-id': 'req_openai_1' }): Error =>
  OpenAI.APIError.generate(status, OPENAI_BODY, undefined, headers(init))

test('openai-node (real v6 classes): AuthenticationError is recognised with its request id; other statuses are not', async (t) => {
  const err = openaiError(401)
  t.ok(err instanceof OpenAI.AuthenticationError)
  t.equal(err.name, 'Error', 'the SDK does not name its classes, so recognition cannot use the name')
  t.same(recognise(err), { status: 401, requestId: 'req_openai_1' })
  t.same(recognise(openaiError(401, {})), { status: 401 }, 'no request id when the upstream gave none')
  for (const status of [400, 403, 404, 429, 500]) t.equal(recognise(openaiError(status)), undefined, `${status}`)
  t.equal(recognise(new OpenAI.APIConnectionError({ message: 'Connection error.' })), undefined, 'a connection error has no status')
  t.equal(recognise(new OpenAI.OpenAIError('Missing credentials. Please pass an `apiKey`')), undefined, 'a constructor-time missing key is not an upstream answer')
})

test('@anthropic-ai/sdk shapes: 1.x (named class, request-id header) and 0.x (name "Error")', async (t) => {
  const body = { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_011' }
  const one = Object.assign(new Error('401 ' + JSON.stringify(body)), { name: 'AuthenticationError', status: 401, headers: headers({ 'request-id': 'req_011' }), requestID: 'req_011', error: body, type: 'authentication_error' })
  t.same(recognise(one), { status: 401, requestId: 'req_011' })
  const zero = Object.assign(new Error('401'), { status: 401, headers: headers({ 'request-id': 'req_012' }), error: body })
  t.same(recognise(zero), { status: 401, requestId: 'req_012' }, 'request id from the request-id header')
  const overloaded = Object.assign(new Error('529'), { name: 'OverloadedError', status: 529, headers: headers() })
  t.equal(recognise(overloaded), undefined)
})

test('groq-sdk and together-ai shapes: request id from the x-request-id header', async (t) => {
  const err = Object.assign(new Error('401 {"error":{}}'), { status: 401, headers: headers({ 'x-request-id': 'req_groq_1' }), error: { error: { message: 'Invalid API Key' } } })
  t.same(recognise(err), { status: 401, requestId: 'req_groq_1' })
})

test('Vercel AI SDK (real @ai-sdk/provider): APICallError 401, also inside RetryError.lastError and across package copies', async (t) => {
  const make = (statusCode: number | undefined): APICallError => new APICallError({
    message: `Incorrect API key provided: ${MASKED}`,
    url: 'https://api.fireworks.ai/inference/v1/chat/completions',
    requestBodyValues: { model: 'm' },
    ...(statusCode === undefined ? {} : { statusCode }),
    responseHeaders: { 'x-request-id': 'req_ai_1' },
    responseBody: JSON.stringify(OPENAI_BODY)
  })
  const err = make(401)
  t.equal(err.name, 'AI_APICallError')
  t.same(recognise(err), { status: 401, requestId: 'req_ai_1', url: 'https://api.fireworks.ai/inference/v1/chat/completions' })
  t.equal(recognise(make(429)), undefined)
  t.equal(recognise(make(undefined)), undefined, 'a network failure has no statusCode')
  const retry = { name: 'AI_RetryError', reason: 'errorNotRetryable', lastError: err, errors: [make(500), err] }
  t.same(recognise(retry), recognise(err))
  t.equal(recognise({ name: 'AI_RetryError', reason: 'maxRetriesExceeded', lastError: make(500) }), undefined)
  // Another copy of the package: another class, the same Symbol.for marker.
  const copy = { name: 'Renamed', statusCode: 401, [Symbol.for('vercel.ai.error.AI_APICallError')]: true }
  t.same(recognise(copy), { status: 401 })
  t.equal(recognise(new LoadAPIKeyError({ message: 'Fireworks API key API key is missing.' })), undefined, 'a missing key is not an upstream answer')
})

test('Speakeasy (Mistral SDKError, @fireworksai/sdk) and Fern (Cohere) shapes', async (t) => {
  const text = '{"detail":"Unauthorized"}'
  const rawResponse = new Response(text, { status: 401, headers: { 'x-request-id': 'req_mistral_1' } })
  const mistral = Object.assign(new Error(`API error occurred: Status 401 Body: ${text}`), { name: 'SDKError', statusCode: 401, body: text, contentType: 'application/json', headers: rawResponse.headers, rawResponse })
  t.same(recognise(mistral), { status: 401, requestId: 'req_mistral_1' })
  t.equal(recognise({ ...mistral, statusCode: 403 }), undefined)
  t.equal(recognise({ name: 'SDKError', statusCode: 401, rawResponse: null }), undefined, 'statusCode alone is not enough')
  const unauthorized = Object.assign(new Error('Unauthorized'), { name: 'Unauthorized', description: 'Unauthorized', data$: { detail: 'x' } })
  t.same(recognise(unauthorized), { status: 401 }, '@fireworksai/sdk Unauthorized has no status at all')
  t.equal(recognise({ name: 'Unauthorized' }), undefined, 'the name alone is not enough')
  const cohere = Object.assign(new Error('Status code: 401'), { name: 'UnauthorizedError', statusCode: 401, body: { message: 'invalid api token' }, rawResponse: { headers: { 'x-request-id': 'req_cohere_1' }, status: 401 } })
  t.same(recognise(cohere), { status: 401, requestId: 'req_cohere_1' })
})

test('Hugging Face HubApiError (real class, named "Error": read by its fields) and replicate ApiError', async (t) => {
  const hub = new HubApiError('https://huggingface.co/api/whoami-v2', 401, 'Root=1-abc', 'Invalid credentials in Authorization header')
  hub.data = { error: 'Invalid credentials in Authorization header' }
  t.equal(hub.name, 'Error', 'the real class does not name itself')
  t.same(recognise(hub), { status: 401, requestId: 'Root=1-abc', url: 'https://huggingface.co/api/whoami-v2' })
  t.equal(recognise(new HubApiError('https://huggingface.co/api/x', 404, undefined, 'Not found')), undefined)
  const imitation = Object.assign(new Error('x'), { name: 'HubApiError', statusCode: 401, url: 'https://huggingface.co/api/whoami-v2' })
  t.equal(recognise(imitation), undefined, 'a look-alike without the real fields is not it')
  const response = new Response('{"detail":"Invalid token"}', { status: 401, headers: { 'x-request-id': 'req_rep_1' } })
  const replicate = Object.assign(new Error('Request to https://api.replicate.com/v1/account failed with status 401 Unauthorized'), { name: 'ApiError', request: new Request('https://api.replicate.com/v1/account'), response })
  t.same(recognise(replicate), { status: 401, requestId: 'req_rep_1' }, 'a hand-built Response has no URL')
  t.equal(recognise({ name: 'ApiError', response: new Response('', { status: 429 }) }), undefined)
  t.equal(recognise({ name: 'ApiError' }), undefined)
})

test('@huggingface/inference (real classes): httpRequest/httpResponse carry the status, URL and request id', async (t) => {
  const request = { url: 'https://router.huggingface.co/v1/chat/completions', method: 'POST', headers: { Authorization: 'Bearer hf_x' } }
  const make = (status: number): Error => new InferenceClientProviderApiError('Failed to perform inference: Invalid credentials', request, { requestId: 'req_hf_1', status, body: { error: 'Invalid credentials' } })
  t.same(recognise(make(401)), { status: 401, requestId: 'req_hf_1', url: request.url })
  t.equal(recognise(make(400)), undefined)
  t.same(recogniseFault(make(503)), { status: 503, timeout: false, requestId: 'req_hf_1', url: request.url })
})

test('@google/genai and cohere-ai (real classes): a 401 is recognised; their own invalid-key statuses need the provider (Upstream.recognise)', async (t) => {
  const body = JSON.stringify({ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } })
  t.same(recognise(new GoogleApiError({ message: body, status: 401 })), { status: 401 })
  t.equal(recognise(new GoogleApiError({ message: 'API key not valid. Please pass a valid API key.', status: 400 })), undefined, 'a 400 alone says nothing')
  t.same(recogniseFault(new GoogleApiError({ message: 'overloaded', status: 503 })), { status: 503, timeout: false })
  const raw = { headers: new Headers({ 'x-request-id': 'req_co' }), redirected: false, status: 401, statusText: 'Unauthorized', type: 'basic', url: 'https://api.cohere.com/v2/chat' } as const
  t.same(recognise(new Cohere.UnauthorizedError({ message: 'invalid api token' }, raw)), { status: 401, requestId: 'req_co', url: 'https://api.cohere.com/v2/chat' })
  t.equal(recognise(new Cohere.InvalidTokenError({ message: 'invalid api token' }, { ...raw, status: 498 })), undefined)
})

test('undici: ResponseError (7.x, real class) and ResponseStatusCodeError (6.x shape)', async (t) => {
  const err = new errors.ResponseError('Response Error', 401, { headers: { 'x-request-id': 'req_undici_1', 'set-cookie': 'upstream_session=abc' }, body: OPENAI_BODY })
  t.equal(err.code, 'UND_ERR_RESPONSE')
  t.same(recognise(err), { status: 401, requestId: 'req_undici_1' })
  t.same(recognise(new errors.ResponseError('Response Error', 401, { headers: { 'request-id': 'req_2' }, body: '' })), { status: 401, requestId: 'req_2' })
  t.equal(recognise(new errors.ResponseError('Response Error', 500, { headers: {}, body: '' })), undefined)
  t.same(recognise({ code: 'UND_ERR_RESPONSE_STATUS_CODE', statusCode: 401, status: 401, headers: null }), { status: 401 })
  t.equal(recognise(new errors.SocketError('other side closed')), undefined)
})

test("non-matches: the application's own 401s and everything that is not an error object", async (t) => {
  const httpError = createHttpError(401, 'who are you', { headers: { 'WWW-Authenticate': 'Basic realm="app"' } })
  t.equal(httpError.status, 401)
  t.equal(recognise(httpError), undefined, 'http-errors / @fastify/sensible with a WWW-Authenticate header')
  t.equal(recognise(httpErrors.createError(401, 'who are you', { headers: { 'WWW-Authenticate': 'Bearer' } })), undefined, '@fastify/sensible httpErrors')
  t.equal(recognise(httpErrors.unauthorized()), undefined)
  t.equal(recognise(Object.assign(new Error('No Authorization was found in request.headers'), { code: 'FST_JWT_NO_AUTHORIZATION_IN_HEADER', statusCode: 401 })), undefined, '@fastify/jwt')
  t.equal(recognise({ status: 401, headers: { 'www-authenticate': 'Bearer' } }), undefined, 'plain headers are not a Fetch Headers')
  t.equal(recognise({ status: 401 }), undefined)
  for (const value of [undefined, null, 401, 'Unauthorized', true, new Error('401 Unauthorized')]) t.equal(recognise(value), undefined, String(value))
})

test('request ids are kept only when they look like ids', async (t) => {
  t.same(recognise(openaiError(401, { 'x-request-id': 'has spaces and\ttabs' })), { status: 401 })
  t.same(recognise(openaiError(401, { 'x-request-id': 'x'.repeat(129) })), { status: 401 })
  t.same(recognise(openaiError(401, { 'x-request-id': 'a'.repeat(128) })), { status: 401, requestId: 'a'.repeat(128) })
})

test('sanitise strips upstream members and the message, and replaces the stack without reading it; keeps the class and status', async (t) => {
  const err = openaiError(401) as Error & Record<string, unknown>
  const frames = String(err.stack).split('\n').filter((line) => /^\s+at /.test(line))
  sanitise(err, 'fireworks', 401)
  for (const member of ['error', 'headers', 'cause']) t.notOk(Object.hasOwn(err, member), `no ${member}`)
  t.equal(err.message, 'The upstream rejected the credentials of key "fireworks" (HTTP 401); upstream text withheld by fastify-keyguard')
  t.equal(String(err.stack).split('\n')[0], `Error: ${err.message}`)
  t.same(String(err.stack).split('\n').slice(1), ["    at <the upstream client's frames are withheld by fastify-keyguard>"])
  t.ok(frames.length > 0, 'the original had frames')
  t.equal(err.status, 401)
  t.notOk(JSON.stringify(err).includes(MASKED))

  const ai = new APICallError({ message: `Incorrect API key provided: ${MASKED}`, url: 'https://x.test', requestBodyValues: { key: KEY }, statusCode: 401, responseHeaders: { a: 'b' }, responseBody: MASKED, data: { error: MASKED }, cause: new Error(MASKED) })
  const retry = Object.assign(new Error(`Failed after 3 attempts. Last error: ${ai.message}`), { name: 'AI_RetryError', lastError: ai, errors: [ai] })
  sanitise(retry, undefined, 401)
  t.match(retry.message, /credentials of a guarded key \(HTTP 401\)/)
  t.notOk(Object.hasOwn(retry, 'lastError') || Object.hasOwn(retry, 'errors'))
  sanitise(ai, 'fireworks', 401)
  for (const member of ['requestBodyValues', 'responseHeaders', 'responseBody', 'data', 'cause']) t.notOk(Object.hasOwn(ai, member), `no ${member}`)
  t.equal(ai.name, 'AI_APICallError')
  t.match(String(ai.stack), /^AI_APICallError: The upstream rejected/)
})

test('sanitise never throws: locked members, frozen errors, missing stacks and names', async (t) => {
  const locked = new Error(`upstream said ${MASKED}`)
  Object.defineProperty(locked, 'body', { value: MASKED, enumerable: true, configurable: false })
  t.doesNotThrow(() => sanitise(locked, 'fireworks', 401))
  t.match(locked.message, /withheld/)
  const frozen = Object.freeze(Object.assign(new Error(MASKED), { body: MASKED }))
  t.doesNotThrow(() => sanitise(frozen, 'fireworks', 401))
  const bare = { message: MASKED, stack: 42, body: MASKED }
  sanitise(bare, 'fireworks', 401)
  t.equal(bare.stack, `Error: ${bare.message}\n    at <the upstream client's frames are withheld by fastify-keyguard>`, 'a non-string stack is rebuilt from the new message')
  t.notOk(Object.hasOwn(bare, 'body'))
})

test('targetOf: same origin only, the longest base path wins', async (t) => {
  const target = (name: string, origin: string, prefix: string): { name: string, provider: typeof providers.fireworks, origin: string, prefix: string } =>
    ({ name, provider: providers.fireworks, origin, prefix })
  const targets = [target('root', 'https://gw.test', ''), target('eu', 'https://gw.test', '/eu'), target('other', 'https://other.test', '')]
  t.equal(targetOf(targets, 'https://gw.test', '/eu/v1/chat')?.name, 'eu')
  t.equal(targetOf(targets, 'https://gw.test', '/us/v1/chat')?.name, 'root')
  t.equal(targetOf(targets, 'https://other.test', '/eu')?.name, 'other')
  t.equal(targetOf(targets, 'https://nowhere.test', '/'), undefined)
  t.equal(targetOf(targets, 'https://gw.test', '/eu')?.name, 'eu', 'the base path itself')
  t.equal(targetOf(targets, 'https://gw.test', '/eu?x=1')?.name, 'eu', 'the base path with a query')
  t.equal(targetOf(targets, 'https://gw.test', '/europe/v1')?.name, 'root', 'a longer segment is not under the base path')
  t.equal(targetOf([target('eu', 'https://gw.test', '/eu')], 'https://gw.test', '/europe/v1'), undefined)
  t.equal(targetOf([target('eu', 'https://gw.test', '/eu'), target('root', 'https://gw.test', '')], 'https://gw.test', '/eu/x')?.name, 'eu', 'whatever the order')
})

test('recogniseFault: unavailable answers and failed connections of every recognised shape', async (t) => {
  t.same(recogniseFault(openaiError(429, { 'x-request-id': 'req_9', 'retry-after': '7' })), { status: 429, timeout: false, requestId: 'req_9', retryAfter: 7 })
  t.same(recogniseFault(openaiError(503, {})), { status: 503, timeout: false })
  t.same(recogniseFault(openaiError(408, {})), { status: 408, timeout: true }, 'a 408 is a timeout')
  for (const status of [400, 401, 403, 404, 422]) t.equal(recogniseFault(openaiError(status)), undefined, `${status} is not unavailability`)
  t.same(recogniseFault(new OpenAI.APIConnectionError({ message: 'Connection error.' })), { status: 0, timeout: false })
  t.same(recogniseFault(new OpenAI.APIConnectionTimeoutError()), { status: 0, timeout: true })
  const vercel = new APICallError({ message: 'Too many', url: 'https://api.fireworks.ai/inference/v1/chat/completions', requestBodyValues: {}, statusCode: 429, responseHeaders: { 'retry-after': '3', 'x-request-id': 'req_v' } })
  t.same(recogniseFault(vercel), { status: 429, timeout: false, requestId: 'req_v', url: 'https://api.fireworks.ai/inference/v1/chat/completions', retryAfter: 3 })
  t.same(recogniseFault({ name: 'AI_RetryError', lastError: vercel }), recogniseFault(vercel), 'inside RetryError')
  const noAnswer = new APICallError({ message: 'Cannot connect', url: 'https://api.fireworks.ai/x', requestBodyValues: {}, isRetryable: true })
  t.same(recogniseFault(noAnswer), { status: 0, timeout: false, url: 'https://api.fireworks.ai/x' })
  t.same(recogniseFault(new errors.ResponseError('Response Error', 502, { headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }, body: '' })), { status: 502, timeout: false, retryAfter: 0 }, 'a past date is 0')
  const speakeasy = Object.assign(new Error('API error occurred'), { name: 'SDKError', statusCode: 503, rawResponse: new Response('x', { status: 503, headers: { 'retry-after': '1.5' } }) })
  t.same(recogniseFault(speakeasy), { status: 503, timeout: false }, 'junk Retry-After is dropped')
  for (const other of [null, 'x', new Error('plain'), Object.assign(new Error('db'), { code: 'ECONNREFUSED' }), httpErrors.serviceUnavailable()]) {
    t.equal(recogniseFault(other), undefined, 'not an upstream SDK fault')
  }
})

test('recogniseFault: a Mistral SDKError carries Fetch headers and statusCode (no status) and is still read by its statusCode', async (t) => {
  const mistral = (statusCode: number): Error => Object.assign(new Error('API error occurred'), {
    name: 'SDKError',
    statusCode,
    headers: new Headers({ 'retry-after': '4', 'x-request-id': 'req_m' }),
    rawResponse: new Response('{}', { status: statusCode, headers: { 'retry-after': '4', 'x-request-id': 'req_m' } })
  })
  t.same(recogniseFault(mistral(503)), { status: 503, timeout: false, retryAfter: 4, requestId: 'req_m' })
  t.same(recognise(mistral(401)), { status: 401, requestId: 'req_m' })
  t.equal(recogniseFault(mistral(400)), undefined)
})

test('Upstream.recognise in an app: an unparsable URL or an unserialisable body is judged by nothing, and passes as it is', async (t) => {
  const key = canary('AIzaSy')
  const stub = await startStub({ mode: 'auth', keys: [key] })
  const { app } = await appWith({ keys: [{ name: 'gemini', provider: 'gemini', value: key, baseUrl: stub.url }], env: {}, probe: { interval: 0, retries: 0 } })
  t.teardown(async () => {
    await app.close()
    await stub.close()
  })
  const invalidKey = JSON.stringify({ error: { code: 400, message: 'API key not valid.', details: [{ reason: 'API_KEY_INVALID' }] } })
  app.get('/bad-url', async () => {
    throw new APICallError({ message: 'API key not valid.', url: 'not a url', requestBodyValues: {}, statusCode: 400, responseBody: invalidKey })
  })
  app.get('/circular', async () => {
    const body: Record<string, unknown> = { error: 'API_KEY_INVALID' }
    body.self = body
    throw new errors.ResponseError('Response Error', 400, { headers: {}, body })
  })
  app.get('/no-body', async () => {
    throw new errors.ResponseError('Response Error', 400, { headers: {} })
  })
  app.get('/no-url', async () => {
    throw new errors.ResponseError('Response Error', 400, { headers: {}, body: JSON.parse(invalidKey) })
  })
  await app.ready()
  t.equal((await app.inject('/bad-url')).statusCode, 400, 'a URL that does not parse names no key')
  t.equal((await app.inject('/circular')).statusCode, 400, 'a body that does not serialise says nothing')
  t.equal((await app.inject('/no-body')).statusCode, 400, 'no body, nothing to judge')
  t.equal((await app.inject('/no-url')).statusCode, 502, 'without a URL, the only key judges (the control case)')
})

test('sanitise keeps only the allow-list: tokens for name and code, numbers for statuses, clean request ids, boolean symbol markers', async (t) => {
  const marker = Symbol.for('vercel.ai.error')
  const text = Symbol('upstream text')
  const err = Object.assign(new Error(`upstream said ${MASKED}`), {
    name: 'AuthenticationError',
    code: KEY.slice(0, 12),
    status: 401,
    statusCode: '401',
    requestID: `req_${KEY.slice(3, 15)}`,
    request_id: 'req_ok_1',
    apiMessage: MASKED,
    [marker]: true,
    [text]: MASKED
  }) as unknown as Error & Record<PropertyKey, unknown>
  Object.defineProperty(err, 'trap', { get () { throw new Error('a getter that throws') }, enumerable: true, configurable: true })
  sanitise(err, 'fireworks', 401, { secrets: [KEY] })
  t.same(Reflect.ownKeys(err).filter((k) => k !== 'stack' && k !== 'message'), ['name', 'status', 'request_id', marker])
  t.equal(err.code, undefined, 'a code that echoes the key goes')
  t.equal(err.statusCode, undefined, 'a status that is not a number goes')
  t.equal(err[marker], true, 'a boolean symbol marker stays')
  const prose = Object.assign(new Error('x'), { name: 'Upstream said: Incorrect API key', code: 42 })
  sanitise(prose, undefined, 401)
  t.equal(prose.name, 'Error', 'a name that is prose goes (the prototype name shows)')
  t.equal(prose.code, 42, 'a numeric code stays')
  t.match(String(prose.stack), /^Error: The upstream rejected/)
})
