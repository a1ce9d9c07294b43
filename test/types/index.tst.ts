import Fastify from 'fastify'
import type { FastifyReply } from 'fastify'
import { expect, test } from 'tstyche'
import type { Dispatcher } from 'undici'
import keyguard, {
  fastifyKeyguard,
  FST_KEYGUARD_BOOT_REFUSED,
  FST_KEYGUARD_KEY_UNAVAILABLE,
  FST_KEYGUARD_OPTIONS,
  FST_KEYGUARD_UPSTREAM_UNAUTHORIZED,
  providers
} from '../../index.js'
import type { BootRefusedError, Cause, Change, CheckResult, FastifyKeyguardOptions, HealthOptions, Keyguard, KeySpec, ProviderId, ProviderSpec, Report, Status } from '../../index.js'

const app = Fastify()

test('the plugin registers with valid options', () => {
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'] })
  expect(app.register).type.toBeCallableWith(fastifyKeyguard, { keys: ['fireworks', { name: 'eu', provider: 'openai', baseUrl: 'https://gw.example.com', required: false }] })
  expect(app.register).type.toBeCallableWith(keyguard, {
    keys: ['gemini'],
    onInvalid: 'degrade',
    onUnreachable: 'refuse',
    env: { GEMINI_API_KEY: 'x' },
    dotenv: '.env',
    probe: { timeout: 1000, retries: 1, interval: 0, jitter: 0.1 },
    health: { live: '/live', ready: false, details: false },
    problem: { status: 503, type: 'https://example.com/p', unavailable: true, recognise: (err: unknown) => err instanceof Error && 'gemini' },
    onChange: (report: Report, change: Change) => { expect(change.current).type.toBe<CheckResult>(); expect(report.status).type.toBe<Status>() }
  })
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], probe: false, health: false, problem: false })
})

test('health.details: verbose (default), always, false, and true as a deprecated alias of always', () => {
  expect<HealthOptions['details']>().type.toBe<'verbose' | 'always' | false | true | undefined>()
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], health: { details: 'verbose' } })
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], health: { details: 'always' } })
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], health: { details: true } })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], health: { details: 'yes' } })
})

test('invalid options do not type-check', () => {
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworkz'] })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], onInvalid: 'crash' })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], probe: { timeout: '5s' } })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ onInvalid: 'refuse' })
  expect<KeySpec>().type.not.toBeAssignableFrom({ provider: 'nope' })
})

test('providers are typed data and a custom ProviderSpec fits KeySpec.provider', () => {
  expect<ProviderId>().type.toBe<
    | 'fireworks' | 'openai' | 'anthropic' | 'groq' | 'together' | 'mistral' | 'cohere' | 'gemini' | 'deepseek' | 'openrouter'
    | 'xai' | 'huggingface' | 'replicate' | 'azure-openai' | 'perplexity' | 'cerebras' | 'elevenlabs' | 'pinecone' | 'nvidia'
    | 'deepgram' | 'assemblyai' | 'langsmith'
  >()
  expect(providers.fireworks).type.toBeAssignableTo<ProviderSpec>()
  const acme: ProviderSpec = { id: 'acme', label: 'Acme', env: 'ACME_KEY', baseUrl: 'https://api.acme.example', probe: { path: '/v1/me' } }
  expect<KeySpec>().type.toBeAssignableFrom({ provider: acme })
})

test('the decorator, the reply method and the route config', () => {
  expect(app.keyguard).type.toBe<Keyguard>()
  expect(app.keyguard.key('fireworks')).type.toBe<string>()
  expect(app.keyguard.report()).type.toBe<Report>()
  expect(app.keyguard.recheck()).type.toBe<Promise<Report>>()
  expect(app.keyguard.fetch).type.toBe<typeof fetch>()
  expect(app.keyguard.dispatcher).type.toBe<Dispatcher>()
  expect(app.keyguard.markShuttingDown()).type.toBe<void>()
  expect<Report['checks'][string]['cause']>().type.toBe<Cause>()
  app.get('/x', { config: { keyguard: 'fireworks' } }, async (request, reply) => {
    expect(reply.upstreamUnauthorized('fireworks')).type.toBe<FastifyReply>()
    expect(request.routeOptions.config.keyguardHealth).type.toBe<boolean | undefined>()
    return {}
  })
  expect(app.get).type.toBeCallableWith('/y', { config: { keyguard: ['fireworks', 'openai'] } }, async () => ({}))
  expect(app.get).type.not.toBeCallableWith('/z', { config: { keyguard: 42 } }, async () => ({}))
})

test('errors carry literal codes', () => {
  expect(new FST_KEYGUARD_OPTIONS('x').code).type.toBe<'FST_KEYGUARD_OPTIONS'>()
  expect(new FST_KEYGUARD_BOOT_REFUSED('x').code).type.toBe<'FST_KEYGUARD_BOOT_REFUSED'>()
  expect(new FST_KEYGUARD_KEY_UNAVAILABLE('x').code).type.toBe<'FST_KEYGUARD_KEY_UNAVAILABLE'>()
  expect(new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('x').statusCode).type.toBe<502>()
  expect<BootRefusedError['checks']>().type.toBe<CheckResult[]>()
})
