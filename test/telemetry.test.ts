// Issue 15: keyguard's metrics and spans, read through the real OpenTelemetry SDK (an in-memory metric
// exporter and span exporter), against a real loopback stand-in.
import { test } from 'tap'
import type { Test } from 'tap'
import { metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader
} from '@opentelemetry/sdk-metrics'
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import OpenAI from 'openai'
import { booted, canary, stubFor, until } from './helpers/app.js'
import type { Stub } from './helpers/app.js'
import { fingerprint } from '../index.js'
import { otelTelemetry, openTelemetry, NO_TELEMETRY } from '../lib/core/telemetry.js'

const KEY = canary('fw_')
const OTHER = canary('fw_')
const PROBE_PATH = '/v1/accounts/fireworks/models'
const CHAT = '/inference/v1'

interface Sdk {
  /** The metrics as the SDK exports them now (cumulative). */
  collect: () => Promise<MetricData[]>
  spans: () => ReadableSpan[]
}

/** The real SDK, registered globally for one test and taken down after it. */
async function sdk (t: Test): Promise<Sdk> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meters = new MeterProvider({ readers: [reader] })
  const spans = new InMemorySpanExporter()
  const tracers = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  t.ok(metrics.setGlobalMeterProvider(meters))
  t.ok(trace.setGlobalTracerProvider(tracers))
  t.ok(propagation.setGlobalPropagator(new W3CTraceContextPropagator()))
  t.teardown(async () => {
    await meters.shutdown()
    await tracers.shutdown()
    metrics.disable()
    trace.disable()
    propagation.disable()
  })
  return {
    async collect () {
      exporter.reset()
      await reader.forceFlush()
      return exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
    },
    spans: () => spans.getFinishedSpans()
  }
}

const points = (all: MetricData[], name: string): Array<DataPoint<unknown>> =>
  all.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as Array<DataPoint<unknown>>)

async function app (t: Test, stub: Stub, routes?: Parameters<typeof booted>[3]) {
  return booted(t, {
    keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }],
    env: {},
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  }, {}, routes)
}

/** Every string the SDK holds: names, attributes, events, links, resources. No key may be in it. */
function everything (all: MetricData[], spans: ReadableSpan[]): string {
  const seen = new WeakSet()
  return JSON.stringify({ all, spans: spans.map((s) => ({ ...s, name: s.name, attributes: s.attributes, events: s.events })) },
    (_k, v: unknown) => {
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return undefined
        seen.add(v)
      }
      return typeof v === 'bigint' ? String(v) : v
    })
}

test('boot: one parent span over the probe, the CLIENT span with HTTP attributes, traceparent sent, gauge and histogram', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app: server } = await app(t, stub)
  t.equal(server.keyguard.report().status, 'pass')

  const spans = otel.spans()
  const boot = spans.find((s) => s.name === 'keyguard.boot')
  const probe = spans.find((s) => s.name === 'keyguard.probe')
  t.ok(boot, 'a boot span')
  t.ok(probe, 'a probe span')
  if (boot === undefined || probe === undefined) return
  t.equal(spans.filter((s) => s.name === 'keyguard.probe').length, 1, 'one span per probe')
  t.equal(probe.kind, SpanKind.CLIENT)
  t.equal(probe.parentSpanContext?.spanId, boot.spanContext().spanId, 'the boot span is the parent')
  t.equal(probe.spanContext().traceId, boot.spanContext().traceId)
  t.same(probe.attributes, {
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': Number(new URL(stub.url).port),
    'url.path': PROBE_PATH,
    'http.response.status_code': 200,
    'keyguard.key': 'fireworks',
    'keyguard.provider': 'fireworks',
    'keyguard.cause': 'valid'
  })
  t.not(probe.status.code, SpanStatusCode.ERROR)

  const probes = stub.requests.filter((r) => r.path.startsWith(PROBE_PATH))
  t.equal(probes.length, 1)
  const { traceId, spanId } = probe.spanContext()
  t.equal(probes[0]?.headers.traceparent, `00-${traceId}-${spanId}-01`, 'the stand-in sees the probe span as parent')

  const all = await otel.collect()
  t.same(points(all, 'keyguard.key.up').map((p) => [p.value, p.attributes]),
    [[1, { 'keyguard.key': 'fireworks', 'keyguard.provider': 'fireworks', 'keyguard.cause': 'valid' }]])
  const durations = points(all, 'keyguard.probe.duration')
  t.equal(durations.length, 1)
  t.same(durations[0]?.attributes, {
    'keyguard.key': 'fireworks', 'keyguard.provider': 'fireworks', 'keyguard.cause': 'valid', 'http.response.status_code': 200
  })
  t.equal((durations[0]?.value as Histogram).count, 1)
  t.notOk(everything(all, spans).includes(KEY) || everything(all, spans).includes(fingerprint(KEY)), 'canary')
  const sum = (durations[0]?.value as Histogram).sum as number
  t.ok(sum > 0 && sum < 2, `seconds, not milliseconds (${sum})`)
  t.equal(all.find((m) => m.descriptor.name === 'keyguard.probe.duration')?.descriptor.unit, 's')
})

test('a recheck that flips the key: gauge 0 with the new cause, a 401 probe span and duration', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app: server } = await app(t, stub)
  t.same(points(await otel.collect(), 'keyguard.key.up').map((p) => p.value), [1])
  stub.set('auth', { keys: [] })
  await server.keyguard.recheck('fireworks')

  const all = await otel.collect()
  const attributes = (cause: string) => ({ 'keyguard.key': 'fireworks', 'keyguard.provider': 'fireworks', 'keyguard.cause': cause })
  t.same(points(all, 'keyguard.key.up').map((p) => [p.value, p.attributes]),
    [[1, attributes('valid')], [0, attributes('rejected')]], 'the rejected series reads 0; the valid one 1')
  // Healed: no series may stay at 0 (the SDK keeps a series the callback stopped observing).
  stub.set('auth', { keys: [KEY] })
  await server.keyguard.recheck('fireworks')
  t.same(points(await otel.collect(), 'keyguard.key.up').map((p) => [p.value, p.attributes]),
    [[1, attributes('valid')], [1, attributes('rejected')]], 'healed: nothing reads 0')
  const durations = points(all, 'keyguard.probe.duration').map((p) => p.attributes)
  t.same(durations.map((a) => [a['keyguard.cause'], a['http.response.status_code']]).sort(),
    [['rejected', 401], ['valid', 200]])

  const probes = otel.spans().filter((s) => s.name === 'keyguard.probe')
  t.equal(probes.length, 3)
  const last = probes[1] as ReadableSpan
  t.equal(last.attributes['keyguard.cause'], 'rejected')
  t.equal(last.attributes['http.response.status_code'], 401)
  t.equal(last.attributes['error.type'], '401')
  t.equal(last.status.code, SpanStatusCode.ERROR)
  t.equal(last.parentSpanContext, undefined, 'a recheck outside any span starts its own trace')
})

test('a probe that gets no answer: no status code, error.type is the reason code', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app: server } = await app(t, stub)
  await stub.close()
  await server.keyguard.recheck('fireworks')
  const last = otel.spans().filter((s) => s.name === 'keyguard.probe').at(-1) as ReadableSpan
  t.equal(last.attributes['http.response.status_code'], undefined)
  t.equal(last.attributes['keyguard.cause'], 'unreachable')
  t.equal(last.attributes['error.type'], 'refused')
  t.equal(last.status.code, SpanStatusCode.ERROR)
})

test('runtime 401s: counted once each, with keyguard.credential.mismatch false for the key, true for another credential', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app: server } = await app(t, stub, (a) => {
    a.post('/chat', async () => {
      const client = new OpenAI({ apiKey: a.keyguard.key('fireworks'), baseURL: stub.url + CHAT, maxRetries: 0, fetch: a.keyguard.fetch })
      return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    })
    a.post('/other', async () => {
      const client = new OpenAI({ apiKey: OTHER, baseURL: stub.url + CHAT, maxRetries: 0, fetch: a.keyguard.fetch })
      return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    })
  })
  const other = await server.inject({ method: 'POST', url: '/other' })
  t.equal(other.statusCode, 502, 'another credential rejected: converted')
  stub.set('auth', { keys: [] })
  const revoked = await server.inject({ method: 'POST', url: '/chat' })
  t.equal(revoked.statusCode, 502)
  t.ok(await until(() => server.keyguard.report().status === 'fail'))

  const all = await otel.collect()
  const mismatch = (p: DataPoint<unknown>): string => String(p.attributes['keyguard.credential.mismatch'])
  const counted = points(all, 'keyguard.upstream.rejections').sort((a, b) => mismatch(a).localeCompare(mismatch(b)))
  t.same(counted.map((p) => [p.value, p.attributes]), [
    [1, { 'keyguard.key': 'fireworks', 'keyguard.provider': 'fireworks', 'keyguard.credential.mismatch': false }],
    [1, { 'keyguard.key': 'fireworks', 'keyguard.provider': 'fireworks', 'keyguard.credential.mismatch': true }]
  ])
  // The 401 of the key itself made keyguard recheck it: a probe span and the gauge say so.
  const rechecked = otel.spans().filter((s) => s.name === 'keyguard.probe').at(-1)
  t.equal(rechecked?.attributes['keyguard.cause'], 'rejected')
  t.equal(rechecked?.attributes['http.response.status_code'], 401)
  t.same(points(all, 'keyguard.key.up').map((p) => [p.value, p.attributes['keyguard.cause']]), [[0, 'rejected']])
  const text = everything(all, otel.spans())
  for (const secret of [KEY, OTHER, fingerprint(KEY), fingerprint(OTHER)]) {
    t.notOk(text.includes(secret), 'no key or fingerprint in any metric or span')
  }
})

test('an SDK error without keyguard.fetch and reply.upstreamUnauthorized() are counted too', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app: server } = await app(t, stub, (a) => {
    a.post('/plain', async () => {
      const client = new OpenAI({ apiKey: a.keyguard.key('fireworks'), baseURL: stub.url + CHAT, maxRetries: 0 })
      return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    })
    a.get('/told', async (_request, reply) => reply.upstreamUnauthorized())
  })
  stub.set('auth', { keys: [] })
  t.equal((await server.inject({ method: 'POST', url: '/plain' })).statusCode, 502)
  t.equal((await server.inject('/told')).statusCode, 502)
  const all = await otel.collect()
  t.same(points(all, 'keyguard.upstream.rejections').map((p) => [p.value, p.attributes]), [
    [2, { 'keyguard.key': 'fireworks', 'keyguard.provider': 'fireworks', 'keyguard.credential.mismatch': false }]
  ])
})

test('a gate refusal is counted with the key and the route pattern (never the URL)', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [] })
  const { app: server } = await booted(t, {
    keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }],
    env: {},
    onInvalid: 'degrade',
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  }, {}, (a) => {
    a.get('/chat/:id', { config: { keyguard: 'fireworks' } }, async () => ({ ok: true }))
  })
  t.equal((await server.inject(`/chat/1?k=${KEY}`)).statusCode, 503)
  t.equal((await server.inject('/chat/2')).statusCode, 503)
  const all = await otel.collect()
  t.same(points(all, 'keyguard.gate.refusals').map((p) => [p.value, p.attributes]), [
    [2, { 'keyguard.key': 'fireworks', 'http.route': '/chat/:id' }]
  ])
  t.same(points(all, 'keyguard.key.up').map((p) => p.value), [0])
  t.notOk(everything(all, otel.spans()).includes(KEY))
})

test('after close the gauge callback is removed: a new app of the same key is the only one observed', async (t) => {
  const otel = await sdk(t)
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const first = await app(t, stub)
  await first.app.close()
  stub.set('auth', { keys: [] })
  await booted(t, {
    keys: [{ name: 'fireworks', value: KEY, baseUrl: stub.url }], env: {}, onInvalid: 'degrade', probe: { interval: 0, retries: 0 }
  })
  // Were the closed app's callback still there, the valid series would be observed at 1 by it as well.
  const up = points(await otel.collect(), 'keyguard.key.up')
  t.same(up.map((p) => [p.value, p.attributes['keyguard.cause']]), [[0, 'rejected']])
})

test('an SDK registered but the API not loadable: the log says so, and nothing is recorded', async (t) => {
  await sdk(t)
  const lines: Array<[object, string]> = []
  const log = { error: () => {}, info: () => {}, warn: (obj: object, msg: string) => { lines.push([obj, msg]) } }
  const missing = Object.assign(new Error("Cannot find package '@opentelemetry/api'"), { code: 'ERR_MODULE_NOT_FOUND' })
  const telemetry = await openTelemetry(log, () => Promise.reject(missing))
  t.equal(telemetry, NO_TELEMETRY)
  t.equal(lines.length, 1)
  t.same(lines[0]?.[0], { keyguard: { code: 'ERR_MODULE_NOT_FOUND' } })
  t.match(lines[0]?.[1], /@opentelemetry\/api cannot be loaded/)
  t.not(await openTelemetry(log), NO_TELEMETRY, 'loadable: the real telemetry')
})

test('NO_TELEMETRY runs what it wraps and records nothing', async (t) => {
  t.equal(await NO_TELEMETRY.boot(async () => 3), 3)
  t.same(await NO_TELEMETRY.probe({ key: 'k', provider: 'p', method: 'GET', url: new URL('http://127.0.0.1/') },
    async (inject) => ({ cause: 'valid', reason: String(inject) })), { cause: 'valid', reason: 'undefined' })
  NO_TELEMETRY.watch(() => [])
  NO_TELEMETRY.rejected(undefined, undefined, false)
  NO_TELEMETRY.refused(undefined, '/')
  NO_TELEMETRY.close()
  t.ok(Object.isFrozen(NO_TELEMETRY))
})

test('otelTelemetry: a refusal with no key names the route only; an aborted probe records no duration', async (t) => {
  const otel = await sdk(t)
  const api = await import('@opentelemetry/api')
  const telemetry = otelTelemetry(api)
  telemetry.refused(undefined, '/x')
  telemetry.rejected(undefined, undefined, false)
  await telemetry.probe({ key: 'k', provider: 'p', method: 'POST', url: new URL('https://127.0.0.1/v1/x?q=1') },
    async () => ({ cause: 'unreachable', reason: 'aborted' }))
  const all = await otel.collect()
  t.same(points(all, 'keyguard.gate.refusals').map((p) => p.attributes), [{ 'http.route': '/x' }])
  t.same(points(all, 'keyguard.upstream.rejections').map((p) => p.attributes), [{ 'keyguard.credential.mismatch': false }])
  t.equal(points(all, 'keyguard.probe.duration').length, 0)
  await telemetry.probe({ key: 'k', provider: 'p', method: 'GET', url: new URL('http://127.0.0.1/') },
    async () => ({ cause: 'valid', reason: 'ok', httpStatus: 200 }))
  const [span, plain] = otel.spans() as [ReadableSpan, ReadableSpan]
  t.equal(span.attributes['url.path'], '/v1/x', 'no query')
  t.equal(span.attributes['server.port'], 443)
  t.equal(plain.attributes['server.port'], 80)
})

test('a propagator that throws costs the trace context, never the probe; a probe that throws still ends its span', async (t) => {
  const otel = await sdk(t)
  propagation.disable()
  propagation.setGlobalPropagator({
    inject: () => { throw new Error('broken propagator') },
    extract: (context) => context,
    fields: () => ['traceparent']
  })
  const stub = await stubFor(t, { mode: 'auth', keys: [KEY] })
  const { app: server } = await app(t, stub)
  t.equal(server.keyguard.report().status, 'pass')
  t.equal(stub.requests[0]?.headers.traceparent, undefined)
  t.equal(otel.spans().filter((s) => s.name === 'keyguard.probe').length, 1)

  const api = await import('@opentelemetry/api')
  const failing = otelTelemetry(api).probe({ key: 'k', provider: 'p', method: 'GET', url: new URL('http://127.0.0.1/') },
    async () => { throw new Error('boom') })
  await t.rejects(failing, /boom/)
  const last = otel.spans().at(-1) as ReadableSpan
  t.equal(last.name, 'keyguard.probe')
  t.equal(last.status.code, SpanStatusCode.ERROR)
})
