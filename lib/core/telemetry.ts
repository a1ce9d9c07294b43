import type * as Api from '@opentelemetry/api'
import type { Verdict } from './causes.js'
import type { Logger } from './log.js'
import type { CheckResult } from './report.js'

/**
 * Where `@opentelemetry/api` 1.x keeps the providers an SDK registers (its `global-utils`). When it is
 * absent no SDK was ever registered in this process, so every instrument would be a no-op: the API is
 * then not even loaded (importing it costs about 20 ms, twice keyguard's whole import budget).
 */
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1')

/** What is known of a probe before it is sent, for its span. */
export interface ProbeTarget {
  key: string
  provider: string
  method: string
  url: URL
}

/** Adds the trace context headers (`traceparent`, `tracestate`) to a probe's outgoing headers. */
export type Inject = (headers: Record<string, string>) => void

/**
 * keyguard's metrics and spans. Attributes carry key names, provider ids, cause codes, routes and
 * HTTP status codes: never a key, a fingerprint or a message.
 */
export interface Telemetry {
  /** Runs the boot check under one parent span over its probes. */
  boot: <T>(run: () => Promise<T>) => Promise<T>
  /** Runs one probe under a CLIENT span, and records its duration. */
  probe: (target: ProbeTarget, run: (inject: Inject | undefined) => Promise<Verdict>) => Promise<Verdict>
  /** Reports `keyguard.key.up` from these results at each collection, until `close()`. */
  watch: (results: () => Iterable<CheckResult>) => void
  /** An upstream rejected a request at runtime. */
  rejected: (key: string | undefined, provider: string | undefined, mismatch: boolean) => void
  /** The route gate answered 503. */
  refused: (key: string | undefined, route: string) => void
  close: () => void
}

/** Telemetry when no OpenTelemetry SDK is registered: nothing is measured, nothing is loaded. */
export const NO_TELEMETRY: Telemetry = Object.freeze<Telemetry>({
  boot: (run) => run(),
  probe: (_target, run) => run(undefined),
  watch: () => {},
  rejected: () => {},
  refused: () => {},
  close: () => {}
})

/** The HTTP client duration buckets of the OpenTelemetry semantic conventions, in seconds. */
const BUCKETS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10])

/** Headers a propagator may add to a probe: the W3C trace context and baggage, never one the probe sets. */
const PROPAGATED = /^(?:traceparent|tracestate|baggage)$/

/**
 * keyguard's telemetry through `@opentelemetry/api`, loaded only when an SDK is registered. When one is
 * but the API cannot be loaded from here (it is an optional peer dependency), the log says so.
 */
export async function openTelemetry (
  log: Logger, load: () => Promise<typeof Api> = () => import('@opentelemetry/api')
): Promise<Telemetry> {
  if (!(API_GLOBAL in globalThis)) return NO_TELEMETRY
  let api: typeof Api
  try {
    api = await load()
  } catch (err) {
    const { code } = err as { code?: unknown }
    log.warn({ keyguard: { code } }, 'fastify-keyguard: an OpenTelemetry SDK is registered but @opentelemetry/api ' +
      'cannot be loaded from fastify-keyguard; install it next to the SDK. No metrics or spans are recorded')
    return NO_TELEMETRY
  }
  return otelTelemetry(api)
}

/** Telemetry through the given API: the meter and tracer are taken now, from the providers registered now. */
export function otelTelemetry (api: typeof Api): Telemetry {
  const meter = api.metrics.getMeter('fastify-keyguard')
  const tracer = api.trace.getTracer('fastify-keyguard')
  const up = meter.createObservableGauge('keyguard.key.up', {
    description: 'Whether a guarded key works: 0 while it fails with this cause (pending included), else 1'
  })
  const duration = meter.createHistogram('keyguard.probe.duration', {
    description: 'Duration of a live probe of a key, retries included',
    unit: 's',
    advice: { explicitBucketBoundaries: [...BUCKETS] }
  })
  const rejections = meter.createCounter('keyguard.upstream.rejections', {
    description: 'Requests an upstream rejected at runtime for a guarded key'
  })
  const refusals = meter.createCounter('keyguard.gate.refusals', {
    description: 'Requests the route gate answered 503 because a key the route needs is failing'
  })
  let parent: Api.Context | undefined
  let observe: Api.ObservableCallback | undefined

  return {
    async boot (run) {
      const span = tracer.startSpan('keyguard.boot', { kind: api.SpanKind.INTERNAL })
      parent = api.trace.setSpan(api.context.active(), span)
      try {
        return await api.context.with(parent, run)
      } finally {
        parent = undefined
        span.end()
      }
    },

    async probe (target, run) {
      const attributes: Api.Attributes = {
        'http.request.method': target.method,
        'server.address': target.url.hostname,
        'server.port': Number(target.url.port) || (target.url.protocol === 'https:' ? 443 : 80),
        'url.path': target.url.pathname,
        'keyguard.key': target.key,
        'keyguard.provider': target.provider
      }
      const base = parent ?? api.context.active()
      const span = tracer.startSpan('keyguard.probe', { kind: api.SpanKind.CLIENT, attributes }, base)
      const active = api.trace.setSpan(base, span)
      const inject: Inject = (headers) => {
        const carrier: Record<string, string> = {}
        try {
          api.propagation.inject(active, carrier)
        } catch {
          // The application's propagator threw: the probe goes without trace context, as without a tracer.
          return
        }
        for (const [name, value] of Object.entries(carrier)) {
          const lower = name.toLowerCase()
          if (PROPAGATED.test(lower) && typeof value === 'string') headers[lower] = value
        }
      }
      const started = performance.now()
      let verdict: Verdict
      try {
        verdict = await run(inject)
      } catch (err) {
        span.setStatus({ code: api.SpanStatusCode.ERROR })
        span.end()
        throw err
      }
      const seconds = (performance.now() - started) / 1000
      const outcome: Api.Attributes = { 'keyguard.cause': verdict.cause }
      if (verdict.httpStatus !== undefined) outcome['http.response.status_code'] = verdict.httpStatus
      span.setAttributes(outcome)
      if (verdict.httpStatus === undefined || verdict.httpStatus >= 400) {
        // A code, never a message: the status, or keyguard's reason when no answer came.
        span.setAttribute('error.type', verdict.httpStatus === undefined ? verdict.reason : String(verdict.httpStatus))
        span.setStatus({ code: api.SpanStatusCode.ERROR })
      }
      span.end()
      // A probe cut by close() measured nothing.
      if (verdict.reason !== 'aborted') {
        duration.record(seconds, {
          'keyguard.key': target.key, 'keyguard.provider': target.provider, ...outcome
        })
      }
      return verdict
    },

    watch (results) {
      // The SDK keeps exporting a series a callback stopped observing, at its last value (cumulative
      // temporality, as Prometheus uses): a key that failed as `rejected` and works again would read 0
      // forever. So every series once reported is reported again, and reads 0 only while the key fails
      // with that cause.
      const series = new Map<string, Api.Attributes>()
      observe = (result) => {
        const down = new Set<string>()
        for (const check of results()) {
          const id = `${check.name}\0${check.cause}`
          const { name, provider, cause } = check
          series.set(id, { 'keyguard.key': name, 'keyguard.provider': provider, 'keyguard.cause': cause })
          if (check.status === 'fail') down.add(id)
        }
        for (const [id, attributes] of series) result.observe(down.has(id) ? 0 : 1, attributes)
      }
      up.addCallback(observe)
    },

    rejected (key, provider, mismatch) {
      const attributes: Api.Attributes = {}
      if (key !== undefined) attributes['keyguard.key'] = key
      if (provider !== undefined) attributes['keyguard.provider'] = provider
      attributes['keyguard.credential.mismatch'] = mismatch
      rejections.add(1, attributes)
    },

    refused (key, route) {
      refusals.add(1, key === undefined ? { 'http.route': route } : { 'keyguard.key': key, 'http.route': route })
    },

    close () {
      if (observe !== undefined) up.removeCallback(observe)
      observe = undefined
    }
  }
}
