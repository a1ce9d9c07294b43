import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onErrorHookHandler, onSendHookHandler, RouteOptions } from 'fastify'
import { FST_KEYGUARD_KEY_FAILING, FST_KEYGUARD_OPTIONS, FST_KEYGUARD_UPSTREAM_UNAUTHORIZED, FST_KEYGUARD_UPSTREAM_UNAVAILABLE } from './errors.js'
import type { Guard } from './guard.js'
import { problemDocument, sendProblem } from './problem.js'
import { requestIdOf, scrubError } from './redact.js'
import type { ProblemDocument } from './problem.js'
import { kHit, recogniseFault, sanitise } from './upstream.js'
import type { Upstream, UpstreamHit } from './upstream.js'

const kGate = Symbol('fastify-keyguard.gate')
const kWatched = Symbol('fastify-keyguard.watched')

type GateHook = ((request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void) & { [kGate]?: true }

/** The key names a route's `config.keyguard` declares, checked against the guarded keys. */
export function gateNames (route: RouteOptions, guard: Guard): string[] | undefined {
  const gate = (route.config as { keyguard?: unknown } | undefined)?.keyguard
  if (gate === undefined) return undefined
  const names = typeof gate === 'string' ? [gate] : gate
  const where = `route ${String(route.method)} ${route.url}: config.keyguard`
  if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) {
    throw new FST_KEYGUARD_OPTIONS(`${where} must be a key name or a non-empty array of key names`)
  }
  for (const name of names) {
    if (!guard.has(name)) throw new FST_KEYGUARD_OPTIONS(`${where} names "${name}", which is not a guarded key; guarded keys: ${guard.names().join(', ')}`)
  }
  return names
}

/**
 * Adds the route gate to a route whose config names keys: while any of them fails, the route answers
 * 503 problem+json with `Retry-After` and its handler does not run. Ungated routes get no hook at all.
 */
export function addGate (route: RouteOptions, guard: Guard): void {
  const names = gateNames(route, guard)
  if (names === undefined) return
  const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
  // A route registered from another route's options (a plugin cloning routes) already has the gate.
  if (existing.some((hook) => (hook as GateHook)[kGate] === true)) return
  const gate: GateHook = (request, reply, done) => {
    const blocked = guard.blocking(names)
    if (blocked === undefined) return done()
    const result = guard.result(blocked)
    const doc = problemDocument(new FST_KEYGUARD_KEY_FAILING(blocked), request, { key: blocked, provider: result?.provider })
    request.log.warn({ keyguard: { key: blocked, cause: result?.cause } }, 'fastify-keyguard: gated route refused while its key is failing')
    sendProblem(reply, doc, guard.retryAfter(names))
  }
  gate[kGate] = true
  route.onRequest = [gate, ...existing] as NonNullable<RouteOptions['onRequest']>
}

/** Reply headers kept on a converted reply: the application's own cross-origin and security headers. */
const KEEP = /^(?:access-control-|vary$|strict-transport-security$|x-content-type-options$|content-security-policy|x-frame-options$|referrer-policy$|cross-origin-|permissions-policy$)/

/** Options of the conversion hooks. */
export interface Conversion {
  status: number
  type: string
  unavailable?: boolean
  recognise?: ((error: unknown) => boolean | string) | undefined
}

/**
 * A request's upstream credential failure. `expected` is the status Fastify's default error handler
 * gives the thrown error; a reply with another status (but 401) was mapped by the application itself.
 */
type Hit = UpstreamHit & { expected?: number, sent?: true }
type Marked = FastifyRequest & { [kHit]?: Hit }

function single (guard: Guard): string | undefined {
  const names = guard.names()
  return names.length === 1 ? names[0] : undefined
}

/** The key a thrown error is about: its URL's origin, else the route's only gated key, else the only key. */
function keyFor (guard: Guard, upstream: Upstream, request: FastifyRequest, url: string | undefined): string | undefined {
  const byUrl = upstream.targetOfUrl(url)
  if (byUrl !== undefined) return byUrl.name
  const gate = (request.routeOptions.config as { keyguard?: unknown }).keyguard
  if (typeof gate === 'string') return gate
  if (Array.isArray(gate) && gate.length === 1) return gate[0] as string
  return single(guard)
}

/** The status Fastify's default error handler answers an error with (`lib/error-status.js`). */
function defaultStatus (error: { statusCode?: unknown, status?: unknown }, current: number): number {
  const inRange = (value: unknown): value is number => typeof value === 'number' && value >= 400 && value <= 599
  if (inRange(error.statusCode)) return error.statusCode
  if (inRange(error.status)) return error.status
  return inRange(current) ? current : 500
}

/** One error per kind and key name, built once: its details never change, and building one captures a stack. */
type Built = { code: string, toProblemDetails: () => { type: string, title: string, status: number, detail: string } }
const unauthorizedErrors = new Map<string, Built>()
const unavailableErrors = new Map<string, Built>()

/** The status of an unavailable problem: 503 for a 429/503 (retry later), 504 for a timeout, else 502. */
const unavailableStatus = (hit: Hit): number => hit.status === 429 || hit.status === 503 ? 503 : hit.timeout === true ? 504 : 502

/** The problem document for an upstream failure, sent in place of whatever the route produced. */
function upstreamProblem (guard: Guard, request: FastifyRequest, hit: Hit, conversion: Conversion): ProblemDocument {
  const provider = hit.provider ?? (hit.key === undefined ? undefined : guard.result(hit.key)?.provider)
  const name = hit.key ?? 'upstream'
  const fault = hit.kind === 'unavailable'
  const cache = fault ? unavailableErrors : unauthorizedErrors
  let err = cache.get(name)
  if (err === undefined) {
    err = fault ? new FST_KEYGUARD_UPSTREAM_UNAVAILABLE(name) : new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED(name)
    cache.set(name, err)
  }
  return problemDocument(err, request, {
    type: fault ? undefined : conversion.type,
    status: fault ? unavailableStatus(hit) : conversion.status,
    key: hit.key,
    provider,
    upstreamRequestId: hit.requestId
  })
}

/**
 * `Retry-After` of a 503 problem: the upstream's own (parsed and capped) when it was unavailable, else
 * the next check of the key (of every key when it is not known).
 */
function retryAfter (guard: Guard, doc: ProblemDocument, hit: Hit): number | undefined {
  if (doc.status !== 503) return undefined
  if (hit.kind === 'unavailable') return hit.retryAfter
  return guard.retryAfter(hit.key === undefined ? guard.names() : [hit.key])
}

/** Whether a payload is a fetch `Response` (Fastify's own test: any realm, any undici copy). */
const isResponse = (payload: unknown): payload is Response => Object.prototype.toString.call(payload) === '[object Response]'

/** Cancels a payload that will not be sent: a Node stream, a web stream, or a fetch `Response`. */
function discard (payload: unknown): void {
  if (payload === null || typeof payload !== 'object') return
  const body = isResponse(payload) ? payload.body : payload
  if (typeof (body as { destroy?: unknown } | null)?.destroy === 'function') (body as { destroy: () => void }).destroy()
  else if (typeof (body as { cancel?: unknown } | null)?.cancel === 'function') (body as ReadableStream).cancel().catch(() => {})
}

/**
 * The conversion hooks: `onError` recognises an upstream credential failure (and strips the error of
 * upstream text before any handler logs it), `onSend` replaces the reply with a problem document. No
 * `setErrorHandler`: the application's own handler stays in charge, and a reply it mapped to a status
 * of its own (other than 401) is left as it is.
 */
export function conversionHooks (guard: Guard, upstream: Upstream, conversion: Conversion): {
  onError: onErrorHookHandler
  onSend: onSendHookHandler
} {
  const byPredicate = (error: unknown, request: FastifyRequest): { status: number, key?: string } | undefined => {
    let verdict: boolean | string
    try {
      verdict = conversion.recognise?.(error) ?? false
    } catch (err) {
      request.log.error({ keyguard: { code: (err as { code?: unknown })?.code } }, 'fastify-keyguard: the problem.recognise predicate threw; the error is treated as not recognised')
      return undefined
    }
    if (verdict === false) return undefined
    return typeof verdict === 'string' ? { status: 401, key: verdict } : { status: 401 }
  }

  const onError: onErrorHookHandler = (request, reply, error, done) => {
    // Before any error handler logs or sends it: library errors echo header values and URLs (faults #75).
    scrubError(error, guard.secrets())
    const marked = request as Marked
    const own = (error as { code?: unknown }).code === 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED'
    // The exported error names its key in quotes: `new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED('fireworks')`.
    const named = own ? /"([^"]+)"/.exec(error.message)?.[1] : undefined
    const found: { status: number, requestId?: string, url?: string, key?: string } | undefined = own
      ? (named === undefined ? { status: 401 } : { status: 401, key: named })
      : upstream.recognise(error, (url) => keyFor(guard, upstream, request, url)) ?? byPredicate(error, request)
    if (found === undefined && conversion.unavailable === true && marked[kHit] === undefined) {
      const fault = recogniseFault(error)
      const key = fault === undefined ? undefined : keyFor(guard, upstream, request, fault.url)
      // Only a fault that can be tied to a guarded key: keyguard speaks for its upstreams, not for every error.
      if (fault !== undefined && key !== undefined) {
        const hit: Hit = { kind: 'unavailable', status: fault.status, timeout: fault.timeout, key }
        const requestId = requestIdOf(fault.requestId, guard.secrets())
        if (requestId !== undefined) hit.requestId = requestId
        if (fault.retryAfter !== undefined) hit.retryAfter = fault.retryAfter
        marked[kHit] = hit
      }
    }
    if (found !== undefined && (marked[kHit] === undefined || marked[kHit].kind === 'unavailable')) {
      const key = found.key !== undefined && guard.has(found.key) ? found.key : keyFor(guard, upstream, request, found.url)
      const hit: Hit = { status: found.status }
      if (key !== undefined) hit.key = key
      const requestId = requestIdOf(found.requestId, guard.secrets())
      if (requestId !== undefined) hit.requestId = requestId
      marked[kHit] = hit
      if (key !== undefined) guard.suspect(key)
    }
    const hit = marked[kHit]
    if (hit !== undefined) {
      hit.expected = defaultStatus(error as { statusCode?: unknown, status?: unknown }, reply.statusCode)
      if (!own) sanitise(error, hit.key, hit.status, guard.secrets(), hit.kind === 'unavailable')
    }
    done()
  }

  const onSend: onSendHookHandler = (request, reply, payload, done) => {
    const hit = (request as Marked)[kHit]
    if (hit === undefined || hit.sent === true) return done(null, payload)
    // Fastify takes a fetch Response's status and headers after the onSend hooks.
    const status = isResponse(payload) ? payload.status : reply.statusCode
    // 401, the upstream's own status passed through, or what the default error handler made of the
    // error (500 when nothing was thrown); any other status is the application's own mapping.
    if ((status !== 401 || hit.kind === 'unavailable') && status !== hit.status && status !== (hit.expected ?? 500)) return done(null, payload)
    hit.sent = true
    discard(payload)
    for (const name of Object.keys(reply.getHeaders())) {
      if (!KEEP.test(name)) reply.removeHeader(name)
    }
    const doc = upstreamProblem(guard, request, hit, conversion)
    reply.code(doc.status).header('content-type', 'application/problem+json; charset=utf-8').header('cache-control', 'no-store')
    const after = retryAfter(guard, doc, hit)
    if (after !== undefined) reply.header('retry-after', String(after))
    const what = hit.kind === 'unavailable' ? 'the upstream could not serve' : 'the upstream rejected our credentials'
    request.log.warn({ keyguard: { key: hit.key, provider: doc.provider, upstreamStatus: hit.status, upstreamRequestId: hit.requestId, replyStatus: status } }, `fastify-keyguard: ${what}; answered ${doc.status} problem+json instead of ${status}`)
    done(null, JSON.stringify(doc))
  }
  return { onError, onSend }
}

/** `reply.upstreamUnauthorized(name?)`: answers with the upstream-credentials problem now and suspects the key. */
export function upstreamUnauthorized (guard: Guard, conversion: Conversion) {
  return function (this: FastifyReply, name?: string): FastifyReply {
    const key = name ?? single(guard)
    if (key !== undefined && !guard.has(key)) throw new FST_KEYGUARD_OPTIONS(`reply.upstreamUnauthorized("${key}"): not a guarded key; guarded keys: ${guard.names().join(', ')}`)
    const hit: Hit = { status: 401, sent: true }
    if (key !== undefined) hit.key = key
    ;(this.request as Marked)[kHit] = hit
    if (key !== undefined) guard.suspect(key)
    const doc = upstreamProblem(guard, this.request, hit, conversion)
    return sendProblem(this, doc, retryAfter(guard, doc, hit))
  }
}

/**
 * Runs the route's handler with its request reachable from the upstream calls it makes, so an
 * answer seen by the watching client can be tied to the reply. Health routes are left alone.
 */
export function watchHandler (route: RouteOptions, upstream: Upstream): void {
  if ((route.config as { keyguardHealth?: unknown } | undefined)?.keyguardHealth === true) return
  const handler = route.handler
  if ((handler as { [kWatched]?: true })[kWatched] === true) return
  const wrapped = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply): unknown {
    return upstream.run(request, () => handler.call(this, request, reply))
  }
  ;(wrapped as { [kWatched]?: true })[kWatched] = true
  route.handler = wrapped as RouteOptions['handler']
}
