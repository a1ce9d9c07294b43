import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import Fastify from 'fastify'
import * as api from '../index.js'

const root = fileURLToPath(new URL('..', import.meta.url))

test('the public surface is exactly this', async (t) => {
  t.same(Object.keys(api).sort(), [
    'DEFAULTS',
    'FST_KEYGUARD_BOOT_REFUSED',
    'FST_KEYGUARD_KEY_FAILING',
    'FST_KEYGUARD_KEY_UNAVAILABLE',
    'FST_KEYGUARD_OPTIONS',
    'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED',
    'FST_KEYGUARD_UPSTREAM_UNAVAILABLE',
    'PROBLEM_TYPES',
    'default',
    'fastifyKeyguard',
    'fingerprint',
    'providers',
    'schemas'
  ])
  t.equal(api.default, api.fastifyKeyguard, 'default and named export are the same plugin')
  const meta = (api.default as unknown as Record<symbol, { name: string, fastify?: string }>)[Symbol.for('plugin-meta')]
  t.same(meta, { name: 'fastify-keyguard' }, 'the plugin checks the Fastify major itself (see test/fastify4.test.ts)')
  t.same(Object.keys(api.providers), [
    'fireworks', 'openai', 'anthropic', 'groq', 'together', 'mistral', 'cohere', 'gemini', 'deepseek', 'openrouter', 'xai',
    'huggingface', 'replicate', 'azure-openai', 'perplexity', 'cerebras', 'elevenlabs', 'pinecone', 'nvidia', 'deepgram',
    'assemblyai', 'langsmith'
  ])
  t.ok(Object.isFrozen(api.DEFAULTS) && Object.isFrozen(api.DEFAULTS.probe) && Object.isFrozen(api.providers))
  t.match(api.DEFAULTS, { onInvalid: 'refuse', onUnreachable: 'warn', probe: { timeout: 5000, retries: 2, interval: 600000, jitter: 0.2 }, health: { live: '/livez', ready: '/readyz', details: 'verbose', hide: false }, problem: { status: 502, unavailable: false } })
})

test('errors have stable codes and statuses, and instanceof works', async (t) => {
  const cases: Array<[new (arg: string) => Error & { code: string, statusCode?: number }, string, number]> = [
    [api.FST_KEYGUARD_OPTIONS, 'FST_KEYGUARD_OPTIONS', 500],
    [api.FST_KEYGUARD_BOOT_REFUSED, 'FST_KEYGUARD_BOOT_REFUSED', 500],
    [api.FST_KEYGUARD_KEY_UNAVAILABLE, 'FST_KEYGUARD_KEY_UNAVAILABLE', 500],
    [api.FST_KEYGUARD_UPSTREAM_UNAUTHORIZED, 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', 502],
    [api.FST_KEYGUARD_UPSTREAM_UNAVAILABLE, 'FST_KEYGUARD_UPSTREAM_UNAVAILABLE', 502],
    [api.FST_KEYGUARD_KEY_FAILING, 'FST_KEYGUARD_KEY_FAILING', 503]
  ]
  for (const [Ctor, code, status] of cases) {
    const err = new Ctor('x')
    t.equal(err.code, code)
    t.equal(err.statusCode, status)
    t.ok(err instanceof Ctor)
  }
  t.ok(new api.FST_KEYGUARD_OPTIONS('x') instanceof TypeError, 'option errors are TypeErrors')
})

test('registering twice in one scope is refused by Fastify, not silently doubled', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(api.default, { keys: ['fireworks'], env: { FIREWORKS_API_KEY: 'fw_' + 'A'.repeat(32) }, probe: false })
  await t.rejects(async () => { await app.register(api.default, { keys: ['openai'], env: {}, probe: false }) }, { code: 'FST_ERR_DEC_ALREADY_PRESENT' })
})

test('require() of the build works on Node >= 20.19 (ESM only)', async (t) => {
  const script = "const k = require('./dist/index.js'); const f = require('fastify')(); f.register(k.fastifyKeyguard, { keys: ['fireworks'], env: { FIREWORKS_API_KEY: 'fw_' + 'A'.repeat(32) }, probe: false }); f.ready().then(() => { console.log(typeof k.default, Object.keys(f.keyguard.report().checks).join()); return f.close() })"
  const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0' }, timeout: 20_000 })
  t.equal(run.status, 0, run.stderr)
  t.equal(run.stdout.trim(), 'function fireworks')
})
