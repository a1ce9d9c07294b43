// Issue 15: the exported JSON Schemas describe every body keyguard sends and report(), checked with a real
// validator (Ajv, as Fastify uses it) against real bodies from many key states; the health routes are
// serialised through them without losing a member; @fastify/swagger lists them.
import { test } from 'tap'
import type { Test } from 'tap'
import { Ajv } from 'ajv'
import formats from 'ajv-formats'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import OpenAI from 'openai'
import keyguard, { schemas } from '../index.js'
import type { FastifyKeyguardOptions, Report } from '../index.js'
import { readinessBody } from '../lib/fastify/health.js'
import { booted, canary, stubFor } from './helpers/app.js'

const KEY = canary('fw_')
const OTHER = canary('fw_')
const CHAT = '/inference/v1'

const ajv = new Ajv({ allErrors: true, strict: true })
formats.default(ajv)
for (const schema of Object.values(schemas)) ajv.addSchema(schema)
const check = (t: Test, id: keyof typeof schemas, value: unknown, what: string): void => {
  const validate = ajv.getSchema(schemas[id].$id)
  const ok = validate?.(value)
  t.ok(ok, `${what} matches schemas.${id}`, { errors: validate?.errors })
}

/** An app whose keys are in every state a stand-in can put them in. */
async function manyStates (t: Test) {
  const ok = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const modes = { forbidden: '403json', limited: '429quota', outage: '500', revoked: '401json' } as const
  const stubs = await Promise.all(Object.values(modes).map((mode) => stubFor(t, { mode })))
  const keys: FastifyKeyguardOptions['keys'] = [
    { name: 'valid', provider: 'fireworks', value: KEY, baseUrl: ok.url },
    { name: 'noted', provider: 'fireworks', value: `${KEY}\n`, baseUrl: ok.url },
    ...Object.keys(modes).map((name, i) => ({ name, provider: 'fireworks' as const, value: KEY, baseUrl: stubs[i]?.url ?? '' })),
    { name: 'missing', provider: 'fireworks', env: 'KG_SCHEMA_MISSING' },
    { name: 'optional', provider: 'fireworks', env: 'KG_SCHEMA_OPTIONAL', required: false },
    { name: 'malformed', provider: 'fireworks', value: KEY.slice(0, 10) + '\u200b' + KEY.slice(10), baseUrl: ok.url },
    { name: 'offline', provider: 'fireworks', value: KEY, probe: false }
  ]
  const { app } = await booted(t, { keys, env: {}, onInvalid: 'degrade', probe: { interval: 0, retries: 0, timeout: 2_000 } },
    {}, (a) => {
      a.get('/gated', { config: { keyguard: 'revoked' } }, async () => ({ ok: true }))
      a.post('/other', async () => {
        const client = new OpenAI({ apiKey: OTHER, baseURL: ok.url + CHAT, maxRetries: 0, fetch: a.keyguard.fetch })
        return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      })
    })
  return { app, ok }
}

test('report() and every CheckResult from many states match the exported schemas', async (t) => {
  const { app } = await manyStates(t)
  // A mismatch note: the upstream rejected another credential sent through keyguard.fetch.
  t.equal((await app.inject({ method: 'POST', url: '/other' })).statusCode, 502)
  const report: Report = app.keyguard.report()
  const causes = new Set(Object.values(report.checks).map((c) => c.cause))
  t.same([...causes].sort(), ['forbidden', 'limited', 'malformed', 'missing', 'rejected', 'unchecked', 'unreachable', 'valid'])
  t.ok(Object.values(report.checks).some((c) => c.notes !== undefined && c.requestId !== undefined && c.httpStatus !== undefined))
  t.ok(report.checks.valid?.notes?.some((note) => note.includes('not FIREWORKS_API_KEY')) ?? true)
  check(t, 'report', report, 'report()')
  for (const result of Object.values(report.checks)) check(t, 'checkResult', result, result.name)
  check(t, 'report', JSON.parse(JSON.stringify(app.keyguard)), 'the decorator as JSON')
})

test('the schemas can fail: a member they do not know, a wrong enum, a missing member', async (t) => {
  const { app } = await manyStates(t)
  const report = app.keyguard.report()
  const one = report.checks.valid as unknown as Record<string, unknown>
  t.notOk(ajv.validate(schemas.checkResult.$id, { ...one, secret: 'x' }), 'an extra member')
  t.notOk(ajv.validate(schemas.checkResult.$id, { ...one, cause: 'broken' }), 'an unknown cause')
  const { fix: _fix, ...missing } = one
  t.notOk(ajv.validate(schemas.checkResult.$id, missing), 'no fix')
  t.notOk(ajv.validate(schemas.readiness.$id, { status: 'pass', checks: { 'a:apiKey': [{ componentId: 'x' }] } }))
  t.notOk(ajv.validate(schemas.problem.$id, { type: 'about:blank' }))
})

test('/readyz and /livez: every body matches its schema and the compiled serializer drops no member', async (t) => {
  const { app } = await manyStates(t)
  const report = app.keyguard.report()
  const verbose = await app.inject('/readyz?verbose')
  t.equal(verbose.statusCode, 503)
  t.equal(verbose.headers['content-type'], 'application/health+json; charset=utf-8', 'as before the schemas')
  const body = verbose.json()
  t.same(body, JSON.parse(JSON.stringify(readinessBody(report, true))), 'every member of the body survives serialisation')
  t.ok(Object.values(body.checks as Record<string, Array<Record<string, unknown>>>).flat()
    .some((entry) => entry.observedValue !== undefined && entry.output !== undefined))
  check(t, 'readiness', body, '/readyz?verbose')
  const plain = await app.inject('/readyz')
  t.same(plain.json(), { status: 'fail' })
  check(t, 'readiness', plain.json(), '/readyz')
  const live = await app.inject('/livez')
  t.same(live.json(), { status: 'pass' })
  check(t, 'liveness', live.json(), '/livez')
  app.keyguard.markShuttingDown()
  check(t, 'readiness', (await app.inject('/readyz')).json(), '/readyz while closing')
})

test('problem documents (gate refusal, upstream 401) match schemas.problem', async (t) => {
  const { app } = await manyStates(t)
  const gated = await app.inject('/gated')
  t.equal(gated.statusCode, 503)
  check(t, 'problem', gated.json(), 'the gate refusal')
  const upstream = await app.inject({ method: 'POST', url: '/other' })
  t.equal(upstream.statusCode, 502)
  check(t, 'problem', upstream.json(), 'the upstream-unauthorized problem')
})

test('@fastify/swagger lists /livez and /readyz with their response schemas; health.hide leaves them out', async (t) => {
  const ok = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const options = { keys: [{ name: 'fireworks', value: KEY, baseUrl: ok.url }], env: {}, probe: { interval: 0 } }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await app.register(keyguard, options)
  app.get('/mine', async () => ({}))
  await app.ready()
  const doc = app.swagger() as { paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: unknown }> }> } }> }
  const media = 'application/health+json'
  const ready = doc.paths['/readyz']?.get.responses
  t.same(Object.keys(ready ?? {}).sort(), ['200', '500', '503'])
  t.match(ready?.['200']?.content[media]?.schema, {
    type: 'object',
    required: ['status'],
    properties: { status: { enum: ['pass', 'warn', 'fail'] }, checks: { additionalProperties: { type: 'array' } } }
  })
  t.match(doc.paths['/livez']?.get.responses['200']?.content[media]?.schema, { properties: { status: { type: 'string' } } })

  const hidden = Fastify()
  t.teardown(() => hidden.close())
  await hidden.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await hidden.register(keyguard, { ...options, health: { hide: true } })
  hidden.get('/mine', async () => ({}))
  await hidden.ready()
  const paths = Object.keys((hidden.swagger() as { paths: object }).paths)
  t.same(paths, ['/mine'], 'hidden from the document')
  t.equal((await hidden.inject('/readyz')).statusCode, 200, 'and still served')
})

test('an app on the Zod type provider boots and serves readiness; its swagger transform needs health.hide', async (t) => {
  const { serializerCompiler, validatorCompiler, jsonSchemaTransform } = await import('fastify-type-provider-zod')
  const { z } = await import('zod')
  const ok = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const options = { keys: [{ name: 'fireworks', value: KEY, baseUrl: ok.url }], env: {}, probe: { interval: 0 } }
  const zodApp = async (hide: boolean) => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.setValidatorCompiler(validatorCompiler)
    app.setSerializerCompiler(serializerCompiler)
    await app.register(swagger, { openapi: { info: { title: 't', version: '1' } }, transform: jsonSchemaTransform })
    await app.register(keyguard, { ...options, health: { hide } })
    app.get('/mine', { schema: { response: { 200: z.object({ ok: z.boolean() }) } } }, async () => ({ ok: true }))
    await app.ready()
    return app
  }
  const app = await zodApp(false)
  const ready = await app.inject('/readyz?verbose')
  t.equal(ready.statusCode, 200, 'the health routes keep Fastify\'s own serializer compiler: the Zod one refuses JSON Schema')
  t.same(ready.json(), JSON.parse(JSON.stringify(readinessBody(app.keyguard.report(), true))))
  check(t, 'readiness', ready.json(), '/readyz?verbose under Zod')
  t.same((await app.inject('/mine')).json(), { ok: true })
  t.throws(() => app.swagger(), 'the Zod transform reads Zod schemas only: documented, use health.hide')
  const hidden = await zodApp(true)
  t.same(Object.keys((hidden.swagger() as { paths: object }).paths), ['/mine'])
  t.equal((await hidden.inject('/readyz')).statusCode, 200)
})
