import { AsyncLocalStorage } from 'node:async_hooks'
import type { Dispatcher } from 'undici'
import type { Guard } from '../core/guard.js'
import { headerRecord, requestIdHeader } from '../core/http.js'
import { fingerprint, requestIdOf } from '../core/redact.js'
import type { Env } from '../core/source.js'
import { createAgent } from '../core/transport.js'
import { answerOf, bodyText, described, retryAfterSeconds, timedOut, unavailable } from './sdk.js'
import type { Recognised } from './sdk.js'
import { keyPrefixes } from '../providers/index.js'
import { credentialOf, rejects, targetOf, targetOfUrl, targetsOf } from './targets.js'
import type { Target } from './targets.js'

/** What the watching side needs of the guard: no more. */
export type Suspicion = Pick<Guard, 'suspect' | 'mismatch' | 'sends' | 'secrets' | 'forms' | 'telemetry'>

/** What keyguard knows about an upstream answer that rejected one of our keys. */
export interface UpstreamHit {
  /** The guarded key's name, when the answer's origin (or the route) tells which key it was. */
  key?: string
  provider?: string
  /** The upstream's HTTP status (401, or a provider's own invalid-key status). */
  status: number
  /** The upstream's request id, when it gave one. */
  requestId?: string
  /**
   * Set when the upstream was unavailable (429, 408, 5xx, no answer) rather than rejecting the key;
   * `status` is 0 without an answer.
   */
  kind?: 'unavailable'
  /** The upstream timed out (408, or no answer in time). */
  timeout?: boolean
  /** The upstream's `Retry-After`, parsed strictly and capped, in whole seconds. */
  retryAfter?: number
  /** Fingerprint of the credential the request carried, when it was not the guarded key. */
  mismatch?: string
}

/** Where a request's upstream hit is kept. */
export const kHit = Symbol('fastify-keyguard.upstream-hit')

/** The request an upstream call was made for (a Fastify request; any object here). */
type Marked = object & { [kHit]?: UpstreamHit }

const PEEK = 4 * 1024

/**
 * Watches upstream traffic for answers that reject a guarded key: it marks the Fastify request the
 * call was made from (found through AsyncLocalStorage), so the reply can be converted, and makes the
 * guard suspect the key. It never changes what the caller receives.
 */
export class Upstream {
  readonly #guard: Suspicion
  readonly #targets: Target[]
  readonly #store = new AsyncLocalStorage<Marked>()
  readonly #env: Env
  /** Whether unavailable answers (429, 408, 5xx, no answer) are recorded too (`problem.unavailable`). */
  readonly #faults: boolean
  #agent: Dispatcher | undefined
  #dispatcher: Dispatcher | undefined
  #fetch: typeof fetch | undefined
  /** Set once the watching client is used; until then no request pays for AsyncLocalStorage. */
  #active = false
  /** The request whose handler is running synchronously while the watching client is still unused. */
  #pending: Marked | undefined
  /** Told of each request marked, before its reply is sent (the Fastify side puts its onSend back then). */
  readonly #marked: ((request: object) => void) | undefined

  constructor (guard: Suspicion, keys: Parameters<typeof targetsOf>[0], env: Env, faults = false,
    marked?: (request: object) => void) {
    this.#guard = guard
    this.#marked = marked
    this.#env = env
    this.#faults = faults
    this.#targets = targetsOf(keys)
  }

  /** Runs a route handler with its request reachable from the upstream calls it makes. */
  run<T> (request: object, fn: () => T): T {
    if (this.#active) return this.#store.run(request, fn)
    // The handler that first touches the watching client enters its request's context then (see
    // `dispatcher`), so even the first upstream call is tied to its reply.
    this.#pending = request
    try {
      return fn()
    } finally {
      this.#pending = undefined
      // Entered for the rest of this turn only: what the handler started keeps its request, and the
      // next request on this connection does not inherit it.
      if (this.#active) this.#store.enterWith(undefined as unknown as Marked)
    }
  }

  /**
   * Records a rejecting answer for the request it was made from (if any) and suspects the key, unless
   * the request carried another credential than the key: then the key is not to blame, and the
   * operator is told which credential was sent (its fingerprint; the value is never kept).
   */
  #hit (target: Target, hit: UpstreamHit, request: Marked | undefined, sentHeaders: unknown): void {
    const sent = credentialOf(sentHeaders, target.provider.auth?.header ?? 'authorization')
    if (sent !== undefined && this.#guard.sends(target.name, sent) === false) {
      // Every shipped provider's prefix: the fingerprint of a credential sent by mistake names its kind.
      hit.mismatch = fingerprint(sent, keyPrefixes)
    }
    // A rejected key outranks an earlier unavailable answer (an SDK retrying a 503, then getting 401).
    const earlier = request?.[kHit]
    if (request !== undefined && (earlier === undefined || earlier.kind === 'unavailable')) {
      request[kHit] = hit
      this.#marked?.(request)
    }
    this.#guard.telemetry.rejected(target.name, target.provider.id, hit.mismatch !== undefined)
    if (hit.mismatch === undefined) this.#guard.suspect(target.name)
    else this.#guard.mismatch(target.name, hit.mismatch)
  }

  /** Records an unavailable upstream for the request (it says nothing about the key). */
  #fault (hit: UpstreamHit, request: Marked | undefined): void {
    if (request === undefined) return
    request[kHit] ??= hit
    this.#marked?.(request)
  }

  /** The guarded key an error's URL points at, if it carries one. */
  targetOfUrl (url: unknown): Target | undefined {
    return targetOfUrl(this.#targets, url)
  }

  /**
   * Recognises an error thrown by an upstream client because the upstream rejected our credentials: a
   * 401 in any shape `answerOf` reads, or another 4xx that the provider's own rules call an invalid key
   * (Gemini's 400 API_KEY_INVALID, Cohere's 498, xAI's 400 naming the key), as the watching dispatcher
   * judges them. The provider is the guarded key's whose base URL the error's URL falls under; an error
   * without a URL is judged by the key `keyOf` names (the route's, or the only one).
   */
  recognise (error: unknown, keyOf: (url: string | undefined) => string | undefined): Recognised | undefined {
    const answer = answerOf(error)
    if (answer === undefined || typeof answer.status !== 'number') return undefined
    const status = answer.status
    if (status === 401) return described<Recognised>({ status }, answer)
    const url = typeof answer.url === 'string' ? answer.url : undefined
    const name = url === undefined ? keyOf(undefined) : undefined
    const target = url === undefined ? this.#targets.find((t) => t.name === name) : this.targetOfUrl(url)
    if (target === undefined) return undefined
    if (!rejects(target, status, headerRecord(answer.headers), bodyText(answer.body))) return undefined
    return described<Recognised>({ status, key: target.name }, answer)
  }

  /** An undici interceptor that watches answers from guarded origins. */
  interceptor (): Dispatcher.DispatcherComposeInterceptor {
    return (dispatch) => (opts, handler) => {
      const origin = typeof opts.origin === 'string' ? opts.origin : String(opts.origin)
      const target = targetOf(this.#targets, new URL(origin).origin, opts.path)
      if (target === undefined) return dispatch(opts, handler)
      const request = this.#store.getStore()
      let status = 0
      let headers: Record<string, string> = {}
      let peek = ''
      return dispatch(opts, {
        onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
        onRequestUpgrade: (controller, statusCode, upgradeHeaders, socket) =>
          handler.onRequestUpgrade?.(controller, statusCode, upgradeHeaders, socket),
        onResponseStart: (controller, statusCode, responseHeaders, statusMessage) => {
          status = statusCode
          headers = headerRecord(responseHeaders)
          if (status === 401) this.#hit(target, this.#describe(target, status, headers), request, opts.headers)
          else if (this.#faults && unavailable(status)) {
            this.#fault(this.#describe(target, status, headers, true), request)
          }
          return handler.onResponseStart?.(controller, statusCode, responseHeaders, statusMessage)
        },
        onResponseData: (controller, chunk) => {
          if (status >= 400 && status !== 401 && peek.length < PEEK) {
            peek += chunk.toString('utf8', 0, PEEK - peek.length)
          }
          return handler.onResponseData?.(controller, chunk)
        },
        onResponseEnd: (controller, trailers) => {
          // A provider's own invalid-key answer (Gemini's 400 API_KEY_INVALID) needs its body to tell.
          if (status !== 401 && rejects(target, status, headers, peek)) {
            this.#hit(target, this.#describe(target, status, headers), request, opts.headers)
          }
          return handler.onResponseEnd?.(controller, trailers)
        },
        onResponseError: (controller, err) => {
          if (this.#faults && status === 0) {
            const hit: UpstreamHit = { key: target.name, provider: target.provider.id, status: 0, kind: 'unavailable' }
            this.#fault({ ...hit, timeout: timedOut(err) }, request)
          }
          return handler.onResponseError?.(controller, err)
        }
      })
    }
  }

  #describe (target: Target, status: number, headers: Record<string, string>, fault = false): UpstreamHit {
    const hit: UpstreamHit = { key: target.name, provider: target.provider.id, status }
    const requestId = requestIdOf(requestIdHeader(headers), this.#guard.secrets(), this.#guard.forms)
    if (requestId !== undefined) hit.requestId = requestId
    if (fault) {
      hit.kind = 'unavailable'
      hit.timeout = status === 408
      const retryAfter = retryAfterSeconds(headers['retry-after'])
      if (retryAfter !== undefined) hit.retryAfter = retryAfter
    }
    return hit
  }

  /**
   * An undici Dispatcher of keyguard's own (through the environment's proxy when one is set) that
   * watches answers from guarded origins. Created on first use, destroyed by `close()`.
   */
  get dispatcher (): Dispatcher {
    if (this.#dispatcher === undefined) {
      this.#agent = createAgent(this.#env)
      this.#dispatcher = this.#agent.compose(this.interceptor())
      this.#active = true
      if (this.#pending !== undefined) this.#store.enterWith(this.#pending)
    }
    return this.#dispatcher
  }

  /** Destroys the agent, cutting any upstream call still in flight. */
  close (): void {
    this.#agent?.destroy().catch(() => {})
    this.#agent = undefined
  }

  /** The global `fetch` sending through the watching dispatcher; hand it to SDKs (`new OpenAI({ fetch })`). */
  get fetch (): typeof fetch {
    if (this.#fetch === undefined) {
      const dispatcher = this.dispatcher
      // Node's fetch takes an undici dispatcher through the non-standard `dispatcher` init member.
      this.#fetch = (input, init) => fetch(input, { ...init, dispatcher } as unknown as RequestInit)
    }
    return this.#fetch
  }
}
