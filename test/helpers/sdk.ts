import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { ProviderId } from '../../index.js'
import { appWith, canary } from './app.js'
import type { Logs } from './app.js'
import { startStub } from './stub.js'
import type { Stub } from './stub.js'
import { Agent, interceptors, request } from 'undici'
import type { Dispatcher } from 'undici'

/** The SDK packages, imported when a row first runs: a test that only reads the rows loads none of them. */
const sdk = async (): Promise<typeof import('./sdk-packages.js')> => await import('./sdk-packages.js')

/** The installed version of a package (what the matrix runs with); some packages do not export their package.json. */
export function versionOf (name: string): string {
  const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url)
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}

/** How a test calls an SDK: the key, the stand-in's URL, and keyguard's `fetch` when the cell uses it. */
export interface Call {
  key: string
  url: string
  fetch?: typeof fetch | undefined
  /** keyguard's dispatcher, with `fetch`, for clients that take an undici Dispatcher. */
  dispatcher?: Dispatcher | undefined
}

/** A provider's real rejection of a key: status, body and the headers it comes with. */
export interface Rejection {
  status: number
  body: unknown
  headers: Record<string, string>
  /**
   * Upstream text that must never reach the client or the logs. keyguard's own words are not in it:
   * its verdicts name a provider's dashboard and reason (`API_KEY_INVALID`), and the upstream's error
   * code (`invalid_api_key`) is kept on the logged error as a token.
   */
  words: string[]
}

/** One row of the SDK matrix: a real package driven against a stand-in answering its provider's rejection. */
export interface SdkCase {
  /** The row's name in the SDK table (docs/usage.md). */
  row: string
  /** The npm package the row is about. */
  pkg: string
  /** keyguard's provider id for the key the SDK uses. */
  provider: ProviderId
  rejection: Rejection
  /** One upstream call through the real SDK, without retries. */
  call: (c: Call) => Promise<unknown>
}

const OPENAI_401: Rejection = {
  status: 401,
  body: { error: { message: 'Incorrect API key provided: sk-proj-****MxYA. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
  headers: { 'x-request-id': 'req_openai_7f3a' },
  words: ['Incorrect API key', 'platform.openai.com/account', 'sk-proj-****MxYA', 'You can find your API key'],
}

const ANTHROPIC_401: Rejection = {
  status: 401,
  body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_011CAnthropic' },
  headers: { 'request-id': 'req_011CAnthropic' },
  words: ['invalid x-api-key', 'authentication_error'],
}

const GROQ_401: Rejection = {
  status: 401,
  body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } },
  headers: { 'x-request-id': 'req_01groq' },
  words: ['Invalid API Key'],
}

const TOGETHER_401: Rejection = {
  status: 401,
  body: { error: { message: 'Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
  headers: { 'x-request-id': 'req_together_1' },
  words: ['Invalid API key provided', 'api.together.xyz'],
}

const MISTRAL_401: Rejection = {
  status: 401,
  body: { message: 'Unauthorized', request_id: 'c61f0a9e2b7d4e1f' },
  headers: { 'x-request-id': 'c61f0a9e2b7d4e1f' },
  words: ['"Unauthorized"', 'Body:'],
}

const FIREWORKS_401: Rejection = {
  status: 401,
  body: { error: { object: 'error', type: 'invalid_request_error', code: 'UNAUTHORIZED', message: 'The API key you provided is invalid.' } },
  headers: { 'x-request-id': 'req_fw_1' },
  words: ['The API key you provided is invalid', 'invalid_request_error']
}

const GEMINI_400: Rejection = {
  status: 400,
  body: {
    error: {
      code: 400,
      message: 'API key not valid. Please pass a valid API key.',
      status: 'INVALID_ARGUMENT',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' }
      ]
    }
  },
  headers: {},
  words: ['API key not valid', 'INVALID_ARGUMENT', 'google.rpc', 'Please pass a valid API key']
}

const COHERE_498: Rejection = {
  status: 498,
  body: { id: '5e1c9a4f-0d2b-4c7e-9f3a-1b2c3d4e5f60', message: 'invalid api token' },
  headers: { 'x-request-id': 'req_cohere_498' },
  words: ['invalid api token', '5e1c9a4f-0d2b'],
}

const COHERE_401: Rejection = { ...COHERE_498, status: 401, headers: { 'x-request-id': 'req_cohere_401' } }

const HF_401: Rejection = {
  status: 401,
  body: { error: 'Invalid credentials in Authorization header' },
  headers: { 'x-request-id': 'Root=1-6a1b2c3d-hf' },
  words: ['Invalid credentials in Authorization header'],
}

const REPLICATE_401: Rejection = {
  status: 401,
  body: { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 },
  headers: { 'x-request-id': 'req_rep_1' },
  words: ['You did not pass a valid authentication token', 'Unauthenticated'],
}

const XAI_400: Rejection = {
  status: 400,
  body: { code: 'Client specified an invalid argument', error: 'Incorrect API key provided: xa***QW. You can obtain an API key from https://console.x.ai.' },
  headers: {},
  words: ['Incorrect API key', 'You can obtain an API key', 'xa***QW', 'Client specified']
}

const messages = [{ role: 'user' as const, content: 'hi' }]

/** Fetch options for the SDKs that take one, or nothing (the SDK's own global fetch). */
const withFetch = (f: typeof fetch | undefined): { fetch?: typeof fetch } => f === undefined ? {} : { fetch: f }

/** The rows of the SDK matrix, one real package each (a package with two provider answers has two rows). */
export const CASES: SdkCase[] = [
  {
    row: 'openai',
    pkg: 'openai',
    provider: 'openai',
    rejection: OPENAI_401,
    call: async ({ key, url, fetch }) => new (await sdk()).OpenAI({ apiKey: key, baseURL: url + '/v1', maxRetries: 0, ...withFetch(fetch) })
      .chat.completions.create({ model: 'gpt-4o-mini', messages })
  },
  {
    row: 'openai (xAI)',
    pkg: 'openai',
    provider: 'xai',
    rejection: XAI_400,
    call: async ({ key, url, fetch }) => new (await sdk()).OpenAI({ apiKey: key, baseURL: url + '/v1', maxRetries: 0, ...withFetch(fetch) })
      .chat.completions.create({ model: 'grok-4', messages })
  },
  {
    row: '@anthropic-ai/sdk',
    pkg: '@anthropic-ai/sdk',
    provider: 'anthropic',
    rejection: ANTHROPIC_401,
    call: async ({ key, url, fetch }) => new (await sdk()).Anthropic({ apiKey: key, baseURL: url, maxRetries: 0, ...withFetch(fetch) })
      .messages.create({ model: 'claude-sonnet-5-5', max_tokens: 8, messages })
  },
  {
    row: 'groq-sdk',
    pkg: 'groq-sdk',
    provider: 'groq',
    rejection: GROQ_401,
    call: async ({ key, url, fetch }) => new (await sdk()).Groq({ apiKey: key, baseURL: url, maxRetries: 0, ...withFetch(fetch) })
      .chat.completions.create({ model: 'llama-3.1-8b-instant', messages })
  },
  {
    row: 'together-ai',
    pkg: 'together-ai',
    provider: 'together',
    rejection: TOGETHER_401,
    call: async ({ key, url, fetch }) => new (await sdk()).Together({ apiKey: key, baseURL: url + '/v1', maxRetries: 0, ...withFetch(fetch) })
      .chat.completions.create({ model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', messages })
  },
  {
    row: '@mistralai/mistralai',
    pkg: '@mistralai/mistralai',
    provider: 'mistral',
    rejection: MISTRAL_401,
    call: async ({ key, url, fetch }) => new (await sdk()).Mistral({
      apiKey: key,
      serverURL: url,
      retryConfig: { strategy: 'none' },
      ...(fetch === undefined ? {} : { httpClient: new (await sdk()).HTTPClient({ fetcher: fetch }) })
    }).chat.complete({ model: 'mistral-small-latest', messages })
  },
  {
    row: '@fireworksai/sdk',
    pkg: '@fireworksai/sdk',
    provider: 'fireworks',
    rejection: FIREWORKS_401,
    call: async ({ key, url, fetch }) => new (await sdk()).FireworksAI({
      apiKey: key,
      serverURL: url + '/inference/v1',
      retryConfig: { strategy: 'none' },
      ...(fetch === undefined ? {} : { httpClient: new (await sdk()).FireworksHTTPClient({ fetcher: fetch }) })
    }).chat.completions.create({ model: 'accounts/fireworks/models/llama-v3p1-8b-instruct', messages })
  },
  {
    row: 'ai + @ai-sdk/openai',
    pkg: '@ai-sdk/openai',
    provider: 'openai',
    rejection: OPENAI_401,
    call: async ({ key, url, fetch }) => (await sdk()).generateText({
      model: (await sdk()).createOpenAI({ apiKey: key, baseURL: url + '/v1', ...withFetch(fetch) }).chat('gpt-4o-mini'),
      prompt: 'hi',
      maxRetries: 0
    })
  },
  {
    row: 'ai + @ai-sdk/anthropic',
    pkg: '@ai-sdk/anthropic',
    provider: 'anthropic',
    rejection: ANTHROPIC_401,
    call: async ({ key, url, fetch }) => (await sdk()).generateText({
      model: (await sdk()).createAnthropic({ apiKey: key, baseURL: url + '/v1', ...withFetch(fetch) })('claude-sonnet-5-5'),
      prompt: 'hi',
      maxRetries: 0
    })
  },
  {
    row: 'ai + @ai-sdk/google',
    pkg: '@ai-sdk/google',
    provider: 'gemini',
    rejection: GEMINI_400,
    call: async ({ key, url, fetch }) => (await sdk()).generateText({
      model: (await sdk()).createGoogleGenerativeAI({ apiKey: key, baseURL: url + '/v1beta', ...withFetch(fetch) })('gemini-2.5-flash'),
      prompt: 'hi',
      maxRetries: 0
    })
  },
  {
    row: 'cohere-ai',
    pkg: 'cohere-ai',
    provider: 'cohere',
    rejection: COHERE_401,
    call: async ({ key, url, fetch }) => new (await sdk()).CohereClientV2({ token: key, environment: url, maxRetries: 0, ...withFetch(fetch) })
      .chat({ model: 'command-a-03-2025', messages })
  },
  {
    row: 'cohere-ai',
    pkg: 'cohere-ai',
    provider: 'cohere',
    rejection: COHERE_498,
    call: async ({ key, url, fetch }) => new (await sdk()).CohereClientV2({ token: key, environment: url, maxRetries: 0, ...withFetch(fetch) })
      .chat({ model: 'command-a-03-2025', messages })
  },
  {
    row: '@huggingface/inference',
    pkg: '@huggingface/inference',
    provider: 'huggingface',
    rejection: HF_401,
    call: async ({ key, url, fetch }) => new (await sdk()).InferenceClient(key, withFetch(fetch))
      .chatCompletion({ endpointUrl: url + '/v1/models/meta-llama', messages })
  },
  {
    row: '@huggingface/hub',
    pkg: '@huggingface/hub',
    provider: 'huggingface',
    rejection: HF_401,
    call: async ({ key, url, fetch }) => (await sdk()).whoAmI({ accessToken: key as `hf_${string}`, hubUrl: url, ...withFetch(fetch) })
  },
  {
    row: 'replicate',
    pkg: 'replicate',
    provider: 'replicate',
    rejection: REPLICATE_401,
    call: async ({ key, url, fetch }) => new (await sdk()).Replicate({ auth: key, baseUrl: url + '/v1', ...withFetch(fetch) }).accounts.current()
  },
  {
    row: 'undici (responseError)',
    pkg: 'undici',
    provider: 'fireworks',
    rejection: FIREWORKS_401,
    call: async ({ key, url, dispatcher }) => {
      // Node's own fetch installs a global dispatcher of its bundled undici: a client of the package's own.
      const own = dispatcher === undefined ? new Agent() : undefined
      try {
        const res = await request(url + '/inference/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'accounts/fireworks/models/llama-v3p1-8b-instruct', messages }),
          dispatcher: (dispatcher ?? own as Agent).compose(interceptors.responseError())
        })
        return await res.body.json()
      } finally {
        await own?.close()
      }
    }
  },
  {
    row: '@google/genai',
    pkg: '@google/genai',
    provider: 'gemini',
    rejection: GEMINI_400,
    call: async ({ key, url, fetch }) => new (await sdk()).GoogleGenAI({
      apiKey: key,
      httpOptions: { baseUrl: url, retryOptions: { attempts: 1 }, ...withFetch(fetch) }
    }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
  }
]

/** Each provider's key prefix, so a synthetic key passes keyguard's offline inspection as a real one would. */
const PREFIXES: Partial<Record<ProviderId, string>> = {
  openai: 'sk-proj-',
  xai: 'xai-',
  anthropic: 'sk-ant-api03-',
  groq: 'gsk_',
  together: 'tgp_v1_',
  mistral: '',
  fireworks: 'fw_',
  gemini: 'AIzaSy',
  cohere: '',
  huggingface: 'hf_',
  replicate: 'r8_'
}

/** The key prefix a provider's keys carry. */
export const prefixOf = (provider: ProviderId): string => PREFIXES[provider] ?? ''

/** The two ways each row is driven: the SDK's own fetch, and `app.keyguard.fetch` (with its dispatcher). */
export const WAYS = [{ watched: false, label: 'without' }, { watched: true, label: 'with' }] as const

/** The SDK table rows (docs/usage.md) for the matrix: every cell of a row is a passing test, so every cell is ✅. */
export function matrixRows (label: (provider: ProviderId) => string): string[] {
  return CASES.map((c) => {
    const version = c.row.startsWith('ai + ') ? `${versionOf('ai')} + ${versionOf(c.pkg)}` : versionOf(c.pkg)
    return `| ${c.row} | ${version} | ${label(c.provider)} ${c.rejection.status} | ${WAYS.map(() => '✅').join(' | ')} |`
  })
}

/**
 * A real app guarding `c`'s provider with a fresh canary key, against a loopback stand-in that accepts
 * only that key; both are closed at teardown.
 */
export async function sdkApp (t: Test, c: SdkCase): Promise<{ app: FastifyInstance, logs: Logs, stub: Stub, key: string }> {
  const key = canary(prefixOf(c.provider))
  const stub = await startStub({ mode: 'auth', keys: [key] })
  const { app, logs } = await appWith({
    keys: [{ name: c.provider, provider: c.provider, value: key, baseUrl: stub.url }],
    env: {},
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  })
  t.teardown(async () => {
    await app.close()
    await stub.close()
  })
  return { app, logs, stub, key }
}
