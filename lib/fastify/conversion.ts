import type {
  FastifyReply, FastifyRequest, onErrorHookHandler, onSendHookHandler, preHandlerHookHandler
} from 'fastify'
import {
  FST_KEYGUARD_OPTIONS, FST_KEYGUARD_UPSTREAM_UNAUTHORIZED, FST_KEYGUARD_UPSTREAM_UNAVAILABLE
} from '../core/errors.js'
import type { Guard } from '../core/guard.js'
import { retryAfterValue } from '../core/retry-after.js'
import { problemDocument, problemHeaders, sendProblem } from './problem.js'
import { requestIdOf, safeName, scrubError } from '../core/redact.js'
import type { ProblemDocument } from './problem.js'
import { recogniseFault } from '../upstream/sdk.js'
import { sanitise } from '../upstream/sanitise.js'
import { kHit } from '../upstream/watch.js'
import { routeContextReader } from './route-config.js'
import type { RouteContext } from './route-config.js'
import { sendShedder } from './shed.js'
import type { Upstream, UpstreamHit } from '../upstream/watch.js'

/** What the conversion needs of the guard: no more. */
export type ConversionView =
  Pick<Guard, 'has' | 'names' | 'result' | 'nextCheck' | 'suspect' | 'secrets' | 'forms' | 'telemetry'>

/** Reply headers kept on a converted reply: the application's own cross-origin and security headers. */
const KEEP = new RegExp('^(?:access-control-|vary$|strict-transport-security$|x-content-type-options$|' +
  'content-security-policy|x-frame-options$|referrer-policy$|cross-origin-|permissions-policy$)')

/** Options of the conversion hooks. */
export interface Conversion {
  status: number
  type: string
  unavailable?: boolean
  recognise?: ((error: unknown) => boolean | string) | undefined
  /** This app's problem errors. */
  errors: ProblemErrors
}

/**
 * A request's upstream credential failure. `expected` is the status Fastify's default error handler
 * gives the thrown error; a reply with another status (but 401) was mapped by the application itself.
 */
type Hit = UpstreamHit & { expected?: number, sent?: true }
type Marked = FastifyRequest & { [kHit]?: Hit }

function single (guard: ConversionView): string | undefined {
  const names = guard.names()
  return names.length === 1 ? names[0] : undefined
}

/** The key a thrown error is about: its URL's origin, else the route's only gated key, else the only key. */
function keyFor (guard: ConversionView, upstream: Upstream, request: FastifyRequest,
  url: string | undefined): string | undefined {
  const byUrl = upstream.targetOfUrl(url)
  if (byUrl !== undefined) return byUrl.name
  const gate = (request.routeOptions.config as { keyguard?: unknown }).keyguard
  if (typeof gate === 'string') return gate
  if (Array.isArray(gate) && gate.length === 1) return gate[0] as string
  return single(guard)
}

/**
 * One error per kind and key name, built once per app: its details never change (building one
 * captures a stack). one captures a stack. */
type Built = { code: string, toProblemDetails: () => { type: string, title: string, status: number, detail: string } }
export type ProblemErrors = (fault: boolean, name: string) => Built

export function problemErrors (): ProblemErrors {
  const built = [new Map<string, Built>(), new Map<string, Built>()] as const
  return (fault, name) => {
    const cache = built[fault ? 1 : 0]
    let err = cache.get(name)
    if (err === undefined) {
      err = fault ? new FST_KEYGUARD_UPSTREAM_UNAVAILABLE(name) : new FST_KEYGUARD_UPSTREAM_UNAUTHORIZED(name)
      cache.set(name, err)
    }
    return err
  }
}

/** The status of an unavailable problem: 503 for a 429/503 (retry later), 504 for a timeout, else 502. */
const unavailableStatus = (hit: Hit): number =>
  hit.status === 429 || hit.status === 503 ? 503 : hit.timeout === true ? 504 : 502

/** The problem document for an upstream failure, sent in place of whatever the route produced. */
function upstreamProblem (guard: ConversionView, request: FastifyRequest, hit: Hit,
  conversion: Conversion): ProblemDocument {
  const provider = hit.provider ?? (hit.key === undefined ? undefined : guard.result(hit.key)?.provider)
  const name = hit.key ?? 'upstream'
  const fault = hit.kind === 'unavailable'
  return problemDocument(conversion.errors(fault, name), request, {
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
function retryAfter (guard: ConversionView, doc: ProblemDocument, hit: Hit): number | undefined {
  if (doc.status !== 503) return undefined
  if (hit.kind === 'unavailable') return hit.retryAfter
  return retryAfterValue(guard.nextCheck(hit.key === undefined ? guard.names() : [hit.key]))
}

/** Whether a payload is a fetch `Response` (Fastify's own test: any realm, any undici copy). */
const isResponse = (payload: unknown): payload is Response =>
  Object.prototype.toString.call(payload) === '[object Response]'

/** Cancels a payload that will not be sent: a Node stream, a web stream, or a fetch `Response`. */
function discard (payload: unknown): void {
  if (payload === null || typeof payload !== 'object') return
  const body = (isResponse(payload) ? payload.body : payload) as { destroy?: unknown, cancel?: unknown } | null
  if (typeof body?.destroy === 'function') (body as { destroy: () => void }).destroy()
  else if (typeof body?.cancel === 'function') (body as ReadableStream).cancel().catch(() => {})
}

/**
 * The conversion hooks: `onError` recognises an upstream credential failure (and strips the error of
 * upstream text before any handler logs it), `onSend` replaces the reply with a problem document. No
 * `setErrorHandler`: the application's own handler stays in charge, and a reply it mapped to a status
 * of its own (other than 401) is left as it is. `onSend` is taken off a route by `shed` (the gate calls
 * it on a route's first request) and put back by `marked` (the watching client calls it as it marks a
 * request; `onError` as it does): see shed.ts.
 */
export function conversionHooks (guard: ConversionView, upstream: Upstream, conversion: Conversion): {
  onError: onErrorHookHandler
  onSend: onSendHookHandler
  shed: (context: RouteContext | undefined) => void
  marked: (request: object) => void
} {
  const byPredicate = (error: unknown, request: FastifyRequest): { status: number, key?: string } | undefined => {
    let verdict: unknown
    try {
      verdict = conversion.recognise?.(error) ?? false
    } catch (err) {
      predicateFailed(request, err, 'threw')
      return undefined
    }
    // Only `true` or a name counts: an async predicate's Promise is truthy, and would make every error a 502.
    if (verdict !== null && typeof (verdict as { then?: unknown } | undefined)?.then === 'function') {
      Promise.resolve(verdict).catch(() => {})
      predicateFailed(request, undefined, 'returned a Promise (it must answer synchronously)')
      return undefined
    }
    if (verdict === true) return { status: 401 }
    return typeof verdict === 'string' ? { status: 401, key: verdict } : undefined
  }

  const predicateFailed = (request: FastifyRequest, err: unknown, what: string): void => {
    if (err !== undefined) scrubError(err, guard.secrets(), guard.forms)
    request.log.error(err === undefined ? {} : { err },
      `fastify-keyguard: the problem.recognise predicate ${what}; the error is treated as not recognised`)
  }

  const onError: onErrorHookHandler = (request, reply, error, done) => {
    // Before any error handler logs or sends it: library errors echo header values and URLs (faults #75).
    scrubError(error, guard.secrets(), guard.forms)
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
        const requestId = requestIdOf(fault.requestId, guard.secrets(), guard.forms)
        if (requestId !== undefined) hit.requestId = requestId
        if (fault.retryAfter !== undefined) hit.retryAfter = fault.retryAfter
        marked[kHit] = hit
      }
    }
    if (found !== undefined && (marked[kHit] === undefined || marked[kHit].kind === 'unavailable')) {
      const key = found.key !== undefined && guard.has(found.key)
        ? found.key
        : keyFor(guard, upstream, request, found.url)
      const hit: Hit = { status: found.status }
      if (key !== undefined) hit.key = key
      const requestId = requestIdOf(found.requestId, guard.secrets(), guard.forms)
      if (requestId !== undefined) hit.requestId = requestId
      marked[kHit] = hit
      rejectedAt(guard, key)
    }
    const hit = marked[kHit]
    if (hit !== undefined) {
      // What the default error handler will answer; an error that refuses the status still converts (a 401).
      hit.expected = own
        ? (error as { statusCode: number }).statusCode
        : hit.kind === 'unavailable' ? unavailableStatus(hit) : conversion.status
      if (!own) {
        const fault = hit.kind === 'unavailable'
        sanitise(error, hit.key, hit.status, { secrets: guard.secrets(), forms: guard.forms, fault })
        // Fastify's error log reads the status from the error: log what the client gets, not the upstream's 401.
        try {
          (error as { statusCode?: number }).statusCode = hit.expected
        } catch {}
      }
      putBack(request)
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
    const converts = (status === 401 && hit.kind !== 'unavailable') || status === hit.status ||
      status === (hit.expected ?? 500)
    if (!converts) return done(null, payload)
    hit.sent = true
    discard(payload)
    for (const name of Object.keys(reply.getHeaders())) {
      if (!KEEP.test(name)) reply.removeHeader(name)
    }
    const doc = upstreamProblem(guard, request, hit, conversion)
    problemHeaders(reply, doc, retryAfter(guard, doc, hit))
    const what = hit.kind === 'unavailable' ? 'the upstream could not serve' : 'the upstream rejected our credentials'
    const keyguard = {
      key: hit.key,
      provider: doc.provider,
      upstreamStatus: hit.status,
      upstreamRequestId: hit.requestId,
      sent: hit.mismatch,
      replyStatus: status
    }
    request.log.warn({ keyguard }, `fastify-keyguard: ${what}; answered ${doc.status} problem+json, not ${status}`)
    done(null, JSON.stringify(doc))
  }
  const sends = sendShedder(onSend)
  const contextOf = routeContextReader()
  const putBack = (request: object): void => { sends.marked(contextOf(request as FastifyRequest)) }
  return { onError, onSend, shed: sends.shed, marked: putBack }
}

/** The upstream rejected our credentials for `key` (or a key it cannot tell): counted, and the key suspected. */
function rejectedAt (guard: ConversionView, key: string | undefined): void {
  if (key !== undefined) guard.suspect(key)
  guard.telemetry.rejected(key, key === undefined ? undefined : guard.result(key)?.provider, false)
}

/** `reply.upstreamUnauthorized(name?)`: answers with the upstream-credentials problem now, and suspects the key. */
export function upstreamUnauthorized (guard: ConversionView, conversion: Conversion) {
  return function (this: FastifyReply, name?: string): FastifyReply {
    const key = name ?? single(guard)
    if (key !== undefined && !guard.has(key)) {
      const guarded = guard.names().join(', ')
      const call = `reply.upstreamUnauthorized(${safeName(key)})`
      throw new FST_KEYGUARD_OPTIONS(`${call}: not a guarded key; guarded keys: ${guarded}`)
    }
    const hit: Hit = { status: 401, sent: true }
    if (key !== undefined) hit.key = key
    ;(this.request as Marked)[kHit] = hit
    rejectedAt(guard, key)
    const doc = upstreamProblem(guard, this.request, hit, conversion)
    return sendProblem(this, doc, retryAfter(guard, doc, hit))
  }
}

/**
 * Carries the request to the upstream calls its handler makes (one global `preHandler` hook, as
 * `@fastify/request-context` does), so an answer seen by the watching client can be tied to the reply.
 * `preHandler` is the last hook before the handler, and runs it in the same turn: the body has been read
 * (a POST's `end` event runs outside any context entered in `onRequest`).
 */
export function contextHook (upstream: Upstream): preHandlerHookHandler {
  return function keyguardContext (request, _reply, done) {
    upstream.run(request, done)
  }
}
