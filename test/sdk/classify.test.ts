import { createGoogleGenerativeAI } from '@ai-sdk/google'
import { GoogleGenAI } from '@google/genai'
import { generateText } from 'ai'
import { CohereClientV2 } from 'cohere-ai'
import Groq from 'groq-sdk'
import OpenAI from 'openai'
import { test } from 'tap'
import type { Test } from 'tap'
import type { ProviderId } from '../../index.js'
import { appWith, canary } from '../helpers/app.js'
import type { Logs } from '../helpers/app.js'
import { prefixOf } from '../helpers/sdk.js'
import { startStub } from '../helpers/stub.js'
import type { Stub } from '../helpers/stub.js'

/**
 * Thrown errors are judged by the provider's own rules (issue 10, item 4): a provider's invalid-key
 * answer converts, an answer about the request does not, and another provider's rules never apply.
 */

const messages = [{ role: 'user' as const, content: 'hi' }]

/** Real answers about the request, not the key. */
const GEMINI_BAD_FIELD = {
  error: {
    code: 400,
    message: 'Invalid JSON payload received. Unknown name "temprature" at \'generation_config\': Cannot find field.',
    status: 'INVALID_ARGUMENT',
    details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'generation_config', description: 'Invalid JSON payload received. Unknown name "temprature"' }] }]
  }
}
const GEMINI_INVALID_KEY = {
  error: {
    code: 400,
    message: 'API key not valid. Please pass a valid API key.',
    status: 'INVALID_ARGUMENT',
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }]
  }
}
const XAI_BAD_MODEL = { code: 'Client specified an invalid argument', error: 'The model grok-9 does not exist or your team does not have access to it.' }
const COHERE_BAD_MODEL = { id: '0b1c2d3e', message: "invalid request: model 'command-z' not found, make sure the correct model ID was used" }
const GROQ_FLEX = { error: { message: 'Flex tier capacity exceeded. This is a known issue and we are working on it.', type: 'capacity_exceeded', code: 'capacity_exceeded' } }

interface Setup {
  app: Awaited<ReturnType<typeof appWith>>['app']
  logs: Logs
  stub: Stub
  key: string
}

async function setup (t: Test, provider: ProviderId, route: (s: Omit<Setup, 'logs'>) => void): Promise<Setup> {
  const key = canary(prefixOf(provider))
  const stub = await startStub({ mode: 'auth', keys: [key] })
  const { app, logs } = await appWith({
    keys: [{ name: provider, provider, value: key, baseUrl: stub.url }],
    env: {},
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  })
  t.teardown(async () => {
    await app.close()
    await stub.close()
  })
  route({ app, stub, key })
  await app.ready()
  return { app, logs, stub, key }
}

const rechecks = (logs: Logs): number => logs.lines.filter((line) => line.includes('rechecking it')).length

/** Asserts that an answer about the request reaches the app's error handling as it is: no 502, no recheck. */
async function untouched (t: Test, s: Setup, status: number, body: unknown): Promise<void> {
  s.stub.set('custom', { status, body })
  const res = await s.app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, status, `the upstream's ${status} about the request stays the app's ${status}`)
  t.notMatch(res.headers['content-type'], /problem\+json/)
  t.equal(rechecks(s.logs), 0, 'no recheck')
  t.equal((await s.app.inject('/readyz')).statusCode, 200, 'readiness unchanged')
}

for (const watched of [false, true]) {
  const how = watched ? 'with' : 'without'

  test(`@ai-sdk/google ${how} keyguard.fetch: 400 API_KEY_INVALID converts, a 400 about a field does not`, async (t) => {
    const s = await setup(t, 'gemini', ({ app, stub, key }) => {
      app.post('/chat', async () => generateText({
        model: createGoogleGenerativeAI({ apiKey: key, baseURL: stub.url + '/v1beta', ...(watched ? { fetch: app.keyguard.fetch } : {}) })('gemini-2.5-flash'),
        prompt: 'hi',
        maxRetries: 0
      }))
    })
    await untouched(t, s, 400, GEMINI_BAD_FIELD)
    s.stub.set('custom', { status: 400, body: GEMINI_INVALID_KEY })
    t.equal((await s.app.inject({ method: 'POST', url: '/chat' })).statusCode, 502)
  })

  test(`@google/genai ${how} keyguard.fetch: a 400 about a field is not a key rejection`, async (t) => {
    const s = await setup(t, 'gemini', ({ app, stub, key }) => {
      app.post('/chat', async () => new GoogleGenAI({
        apiKey: key,
        httpOptions: { baseUrl: stub.url, retryOptions: { attempts: 1 }, ...(watched ? { fetch: app.keyguard.fetch } : {}) }
      }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }))
    })
    await untouched(t, s, 400, GEMINI_BAD_FIELD)
  })

  test(`openai against xAI ${how} keyguard.fetch: a 400 about the model is not a key rejection`, async (t) => {
    const s = await setup(t, 'xai', ({ app, stub, key }) => {
      app.post('/chat', async () => new OpenAI({ apiKey: key, baseURL: stub.url + '/v1', maxRetries: 0, ...(watched ? { fetch: app.keyguard.fetch } : {}) })
        .chat.completions.create({ model: 'grok-9', messages }))
    })
    await untouched(t, s, 400, XAI_BAD_MODEL)
  })

  test(`cohere-ai ${how} keyguard.fetch: a 400 about the model is not a key rejection`, async (t) => {
    const s = await setup(t, 'cohere', ({ app, stub, key }) => {
      app.post('/chat', async () => new CohereClientV2({ token: key, environment: stub.url, maxRetries: 0, ...(watched ? { fetch: app.keyguard.fetch } : {}) })
        .chat({ model: 'command-z', messages }))
    })
    await untouched(t, s, 400, COHERE_BAD_MODEL)
  })

  test(`groq-sdk ${how} keyguard.fetch: Groq's 498 is flex capacity, not Cohere's invalid token`, async (t) => {
    const s = await setup(t, 'groq', ({ app, stub, key }) => {
      app.post('/chat', async () => new Groq({ apiKey: key, baseURL: stub.url, maxRetries: 0, ...(watched ? { fetch: app.keyguard.fetch } : {}) })
        .chat.completions.create({ model: 'llama-3.1-8b-instant', messages, service_tier: 'flex' }))
    })
    await untouched(t, s, 498, GROQ_FLEX)
  })
}

test("a thrown error's URL picks the provider: Gemini's invalid-key words from an OpenAI origin are judged by OpenAI's rules", async (t) => {
  const gemini = canary(prefixOf('gemini'))
  const openai = canary(prefixOf('openai'))
  const geminiStub = await startStub({ mode: 'auth', keys: [gemini] })
  const openaiStub = await startStub({ mode: 'auth', keys: [openai] })
  const { app, logs } = await appWith({
    keys: [
      { name: 'gemini', provider: 'gemini', value: gemini, baseUrl: geminiStub.url },
      { name: 'openai', provider: 'openai', value: openai, baseUrl: openaiStub.url }
    ],
    env: {},
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  })
  t.teardown(async () => {
    await app.close()
    await geminiStub.close()
    await openaiStub.close()
  })
  // @ai-sdk/openai errors carry the URL they were sent to.
  app.post('/openai', async () => generateText({
    model: createGoogleGenerativeAI({ apiKey: openai, baseURL: openaiStub.url + '/v1beta' })('gemini-2.5-flash'),
    prompt: 'hi',
    maxRetries: 0
  }))
  // @google/genai errors carry no URL: the route's key decides, and without one there is none to judge by.
  const genai = async (): Promise<unknown> => new GoogleGenAI({ apiKey: gemini, httpOptions: { baseUrl: geminiStub.url, retryOptions: { attempts: 1 } } })
    .models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
  app.post('/ungated', genai)
  app.post('/gated', { config: { keyguard: 'gemini' } }, genai)
  await app.ready()
  openaiStub.set('custom', { status: 400, body: GEMINI_INVALID_KEY })
  geminiStub.set('custom', { status: 400, body: GEMINI_INVALID_KEY })
  t.equal((await app.inject({ method: 'POST', url: '/openai' })).statusCode, 400, 'OpenAI has no invalid-key 400')
  t.equal((await app.inject({ method: 'POST', url: '/ungated' })).statusCode, 400, 'two keys, no URL, no gate: not judged')
  t.equal(rechecks(logs), 0)
  const res = await app.inject({ method: 'POST', url: '/gated' })
  t.equal(res.statusCode, 502, "the gated route's key is Gemini's")
  t.equal(res.json().key, 'gemini')
})
