// Issue 15: without an OpenTelemetry SDK keyguard costs nothing: the API is not even loaded, and the
// probe carries no trace context. Its own process (tap runs each file apart), so no SDK is registered.
import { test } from 'tap'
import { createRequire } from 'node:module'
import { booted, canary, stubFor } from './helpers/app.js'

const KEY = canary('fw_')
const PROBE_PATH = '/v1/accounts/fireworks/models'
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1')
const require = createRequire(import.meta.url)
const apiLoaded = (): boolean => Object.keys(require.cache).some((file) => file.includes('@opentelemetry/api/'))

const options = (url: string) => ({
  keys: [{ name: 'fireworks', value: KEY, baseUrl: url }], env: {}, probe: { interval: 0, retries: 0 }
})

test('no SDK registered: @opentelemetry/api is never loaded and the probe sends no traceparent', async (t) => {
  t.notOk(API_GLOBAL in globalThis, 'precondition: nothing registered an OpenTelemetry provider')
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app } = await booted(t, options(stub.url), {}, (a) => {
    a.get('/gated', { config: { keyguard: 'fireworks' } }, async () => ({ ok: true }))
  })
  t.equal(app.keyguard.report().status, 'pass')
  await app.keyguard.recheck()
  t.equal((await app.inject('/gated')).statusCode, 200)
  const probes = stub.requests.filter((r) => r.path.startsWith(PROBE_PATH))
  t.equal(probes.length, 2)
  for (const probe of probes) {
    t.equal(probe.headers.traceparent, undefined)
    t.equal(probe.headers.tracestate, undefined)
  }
  t.notOk(apiLoaded(), 'the API was not loaded')
})

test('the API with a propagator but no tracer provider: still no traceparent (no tracer is active)', async (t) => {
  const { propagation } = await import('@opentelemetry/api')
  const { W3CTraceContextPropagator } = await import('@opentelemetry/core')
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  t.teardown(() => propagation.disable())
  t.ok(API_GLOBAL in globalThis)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app } = await booted(t, options(stub.url))
  t.equal(app.keyguard.report().status, 'pass')
  const probes = stub.requests.filter((r) => r.path.startsWith(PROBE_PATH))
  t.equal(probes.length, 1)
  t.equal(probes[0]?.headers.traceparent, undefined)
})
