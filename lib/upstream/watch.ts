import { AsyncLocalStorage } from 'node:async_hooks'
import type { Dispatcher } from 'undici'
import type { Guard } from '../core/guard.js'
import { providers } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'
import { echoes, fingerprint, requestIdOf } from '../core/redact.js'
import { parseRetryAfter } from '../core/retry-after.js'
import { createAgent } from '../core/transport.js'
import type { Env } from '../core/source.js'

/** What keyguard knows about an upstream answer that rejected one of our keys. */
export interface UpstreamHit {
  /** The guarded key's name, when the answer's origin (or the route) tells which key it was. */
  key?: string
  provider?: string
  /** The upstream's HTTP status (401, or a provider's own invalid-key status). */
  status: number
  /** The upstream's request id, when it gave one. */
  requestId?: string
  /** Set when the upstream was unavailable (429, 408, 5xx, no answer) rather than rejecting the key; `status` is 0 without an answer. */
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

interface Target {
  name: string
  provider: ProviderSpec
  origin: string
  prefix: string
}

/** Every shipped provider's public key prefixes, longest first: the fingerprint of a credential sent by mistake names its kind. */
const KNOWN_PREFIXES: readonly string[] = Object.values(providers).flatMap((spec: ProviderSpec) => spec.key?.prefixes ?? [])
  .sort((a, b) => b.length - a.length)

/** A request header's value, whichever form the dispatch options hold headers in. */
function headerOf (headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined
  if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, …]
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1])
    }
    return undefined
  }
  const pairs = typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function'
    ? [...(headers as Iterable<[unknown, unknown]>)]
    : Object.entries(headers)
  for (const [key, value] of pairs) if (String(key).toLowerCase() === name) return Array.isArray(value) ? String(value[0]) : String(value)
  return undefined
}

/** The credential a request carried in the provider's auth header, without its scheme (`Bearer`, `Token`). */
export function credentialOf (headers: unknown, header: string): string | undefined {
  const value = headerOf(headers, header.toLowerCase())?.trim()
  if (value === undefined || value === '') return undefined
  return header.toLowerCase() === 'authorization' ? value.replace(/^[A-Za-z]+ +/, '') : value
}

/** Whether a request path (with its query) lies under a base path: `/gw` holds `/gw/v1` and `/gw?x`, not `/gwx`. */
function under (path: string, prefix: string): boolean {
  // Past the end, charAt gives '', which every string includes.
  return path.startsWith(prefix) && '/?#'.includes(path.charAt(prefix.length))
}

/** Finds the guarded key whose base URL a request URL falls under (the longest path prefix wins). */
export function targetOf (targets: readonly Target[], origin: string, path: string): Target | undefined {
  let best: Target | undefined
  for (const target of targets) {
    if (target.origin !== origin || !under(path, target.prefix)) continue
    if (best === undefined || target.prefix.length > best.prefix.length) best = target
  }
  return best
}

/** Whether a non-401 upstream answer is the provider's own invalid-key answer (Gemini's 400 API_KEY_INVALID). */
function rejects (target: Target, status: number, headers: Record<string, string>, text: string): boolean {
  if (status < 400 || status >= 500 || target.provider.classify === undefined) return false
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {}
  return target.provider.classify({ status, headers, text, json, truncated: false })?.cause === 'rejected'
}

const PEEK = 4 * 1024

/**
 * Watches upstream traffic for answers that reject a guarded key: it marks the Fastify request the
 * call was made from (found through AsyncLocalStorage), so the reply can be converted, and makes the
 * guard suspect the key. It never changes what the caller receives.
 */
export class Upstream {
  readonly #guard: Guard
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

  constructor (guard: Guard, keys: ReadonlyArray<{ name: string, provider: ProviderSpec, baseUrl: string }>, env: Env, faults = false) {
    this.#guard = guard
    this.#env = env
    this.#faults = faults
    this.#targets = keys.map(({ name, provider, baseUrl }) => {
      const url = new URL(baseUrl)
      return { name, provider, origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') }
    })
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
    if (sent !== undefined && this.#guard.sends(target.name, sent) === false) hit.mismatch = fingerprint(sent, KNOWN_PREFIXES)
    // A rejected key outranks an earlier unavailable answer (an SDK retrying a 503, then getting 401).
    if (request !== undefined && (request[kHit] === undefined || request[kHit].kind === 'unavailable')) request[kHit] = hit
    if (hit.mismatch === undefined) this.#guard.suspect(target.name)
    else this.#guard.mismatch(target.name, hit.mismatch)
  }

  /** Records an unavailable upstream for the request (it says nothing about the key). */
  #fault (hit: UpstreamHit, request: Marked | undefined): void {
    if (request !== undefined) request[kHit] ??= hit
  }

  /** The guarded key an error's URL points at, if it carries one. */
  targetOfUrl (url: unknown): Target | undefined {
    if (typeof url !== 'string') return undefined
    try {
      const parsed = new URL(url)
      return targetOf(this.#targets, parsed.origin, parsed.pathname)
    } catch {
      return undefined
    }
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
        onRequestUpgrade: (controller, statusCode, upgradeHeaders, socket) => handler.onRequestUpgrade?.(controller, statusCode, upgradeHeaders, socket),
        onResponseStart: (controller, statusCode, responseHeaders, statusMessage) => {
          status = statusCode
          headers = {}
          for (const [name, value] of Object.entries(responseHeaders)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
          if (status === 401) this.#hit(target, this.#describe(target, status, headers), request, opts.headers)
          else if (this.#faults && unavailable(status)) this.#fault(this.#describe(target, status, headers, true), request)
          return handler.onResponseStart?.(controller, statusCode, responseHeaders, statusMessage)
        },
        onResponseData: (controller, chunk) => {
          if (status >= 400 && status !== 401 && peek.length < PEEK) peek += chunk.toString('utf8', 0, PEEK - peek.length)
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
          if (this.#faults && status === 0) this.#fault({ key: target.name, provider: target.provider.id, status: 0, kind: 'unavailable', timeout: timedOut(err) }, request)
          return handler.onResponseError?.(controller, err)
        }
      })
    }
  }

  #describe (target: Target, status: number, headers: Record<string, string>, fault = false): UpstreamHit {
    const hit: UpstreamHit = { key: target.name, provider: target.provider.id, status }
    const requestId = requestIdOf(headers['x-request-id'] ?? headers['request-id'], this.#guard.secrets(), this.#guard.forms)
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

interface ErrorShape {
  name?: unknown
  code?: unknown
  status?: unknown
  statusCode?: unknown
  headers?: unknown
  responseHeaders?: unknown
  responseBody?: unknown
  requestID?: unknown
  requestId?: unknown
  url?: unknown
  lastError?: unknown
  rawResponse?: unknown
  response?: unknown
  request?: unknown
  httpRequest?: unknown
  httpResponse?: unknown
  error?: unknown
  body?: unknown
  data?: unknown
  message?: unknown
  [key: symbol]: unknown
}

const get = (headers: unknown, name: string): unknown => {
  if (headers === null || typeof headers !== 'object') return undefined
  const h = headers as { get?: unknown } & Record<string, unknown>
  return typeof h.get === 'function' ? (h.get as (n: string) => unknown)(name) : h[name]
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object'

/** What an upstream client's error tells of the answer it got. */
interface Answer {
  /** The upstream's HTTP status; absent when no answer came. */
  status?: unknown
  headers?: unknown
  url?: unknown
  requestId?: unknown
  /** The upstream's body as the error holds it (text, or parsed JSON), for the provider's own rules. */
  body?: unknown
  /** No answer at all: the connection failed or timed out. */
  connection?: { timeout: boolean }
}

/**
 * Reads an error thrown by an upstream client, by what each SDK's real error class carries (checked
 * against the installed packages in test/sdk): undici `ResponseError`; Vercel AI SDK `APICallError`
 * (also inside `RetryError.lastError`, across package copies); openai-node and the other Stainless SDKs
 * (`status` with Fetch `headers`, the body in `error`); Speakeasy (Mistral: `statusCode`, `body`,
 * `rawResponse`) and Fern (Cohere: `statusCode`, `body`, `rawResponse` as a plain object) SDKs;
 * @fireworksai/sdk's `Unauthorized`; @huggingface/inference's `httpRequest`/`httpResponse`;
 * @huggingface/hub's `HubApiError` (named `Error`: read by its fields); Replicate's `ApiError` (a Fetch
 * `response`); @google/genai's `ApiError` (a `status` and the body as its message); Stainless
 * connection errors. Anything else, the application's own errors among them, is no upstream client's.
 */
function answerOf (error: unknown): Answer | undefined {
  if (!isObject(error)) return undefined
  const err = error as ErrorShape
  if (err.name === 'AI_RetryError' && err.lastError !== undefined) return answerOf(err.lastError)
  if (err.code === 'UND_ERR_RESPONSE' || err.code === 'UND_ERR_RESPONSE_STATUS_CODE') {
    return { status: err.statusCode, headers: err.headers, body: err.body }
  }
  if (err.name === 'AI_APICallError' || err[Symbol.for('vercel.ai.error.AI_APICallError')] === true) {
    const answer: Answer = { status: err.statusCode, headers: err.responseHeaders, url: err.url }
    answer.body = err.responseBody
    if (err.statusCode === undefined) answer.connection = { timeout: false }
    return answer
  }
  // Stainless errors carry `status`; Speakeasy errors carry Fetch `headers` too, but `statusCode`.
  if (typeof err.status === 'number' && typeof (err.headers as { get?: unknown } | undefined)?.get === 'function') {
    return { status: err.status, headers: err.headers, requestId: err.requestID, body: err.error ?? err.message }
  }
  if (isObject(err.rawResponse)) {
    return { status: err.statusCode, headers: err.rawResponse.headers, url: err.rawResponse.url, body: err.body }
  }
  // @fireworksai/sdk's Unauthorized class has no status at all
  if (err.name === 'Unauthorized' && 'data$' in err) return { status: 401 }
  if (isObject(err.httpResponse) && isObject(err.httpRequest)) {
    const { status, requestId, body } = err.httpResponse
    return { status, requestId, url: err.httpRequest.url, body }
  }
  // @huggingface/hub's HubApiError keeps the name `Error`; its own fields tell it.
  const hub = Object.hasOwn(err, 'requestId') && Object.hasOwn(err, 'data')
  if (hub && typeof err.statusCode === 'number' && typeof err.url === 'string') {
    return { status: err.statusCode, requestId: err.requestId, url: err.url, body: err.data ?? err.message }
  }
  if (err.name === 'ApiError') {
    const response = err.response
    // Replicate: the Fetch response (its body already read into the message).
    if (isObject(response)) {
      return { status: response.status, headers: response.headers, url: response.url, body: err.message }
    }
    // @google/genai: a status, and the upstream's body as the message.
    if (typeof err.status === 'number') return { status: err.status, body: err.message }
    return undefined
  }
  const kind = (err as { constructor?: { name?: unknown } }).constructor?.name
  if (kind === 'APIConnectionError' || kind === 'APIConnectionTimeoutError') return { connection: { timeout: kind === 'APIConnectionTimeoutError' } }
  return undefined
}

/** The request id and URL an answer gives, when usable. */
function described<T extends { status: number, requestId?: string, url?: string }> (found: T, answer: Answer): T {
  const id = requestIdOf(answer.requestId ?? get(answer.headers, 'x-request-id') ?? get(answer.headers, 'request-id'))
  if (id !== undefined) found.requestId = id
  // A Response built by hand (a test double, a custom fetch) has an empty URL.
  if (typeof answer.url === 'string' && answer.url !== '') found.url = answer.url
  return found
}

/** What `recognise` found: the upstream's status, and what it tells of the request and the key. */
export interface Recognised {
  status: number
  requestId?: string
  url?: string
  /** The guarded key whose provider's own rules judged the answer (a non-401 invalid-key answer). */
  key?: string
}

/**
 * Recognises an error thrown by an upstream client because the upstream rejected our credentials:
 * a 401 in any of the shapes `answerOf` reads. The application's own 401s (`reply.code(401)`,
 * @fastify/jwt, http-errors) have none of these shapes and are left alone. Provider-specific
 * invalid-key answers (Gemini's 400, Cohere's 498) need the guarded keys: `Upstream.recognise`.
 */
export function recognise (error: unknown): Recognised | undefined {
  const answer = answerOf(error)
  return answer?.status === 401 ? described<Recognised>({ status: 401 }, answer) : undefined
}

/** An answer's headers as the classifiers see them: names lower-cased. */
function headerRecord (headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!isObject(headers)) return out
  const entries = typeof headers.entries === 'function' && typeof headers.get === 'function'
    ? [...(headers as unknown as Headers).entries()]
    : Object.entries(headers)
  for (const [name, value] of entries) if (typeof value === 'string') out[name.toLowerCase()] = value
  return out
}

/** An error's body as text: the classifiers read text and parse JSON from it themselves. */
function bodyText (body: unknown): string {
  if (typeof body === 'string') return body
  try {
    return JSON.stringify(body) ?? ''
  } catch {
    return ''
  }
}

/** An answer that says the upstream cannot serve now: 429, 408 or a 5xx. */
export const unavailable = (status: number): boolean => status === 429 || status === 408 || (status >= 500 && status <= 599)

const TIMEOUTS = /^(?:UND_ERR_(?:CONNECT|HEADERS|BODY)_TIMEOUT|ETIMEDOUT|UND_ERR_ABORTED|ABORT_ERR)$/

/** Whether a failed request timed out (undici's timers, or an abort by the caller's deadline). */
function timedOut (err: unknown): boolean {
  const { code, name } = err as { code?: unknown, name?: unknown }
  return (typeof code === 'string' && TIMEOUTS.test(code)) || name === 'TimeoutError' || name === 'AbortError'
}

/** A `Retry-After` fit to pass on: parsed strictly (delay-seconds or HTTP-date), capped at 5 minutes, whole seconds. */
export function retryAfterSeconds (value: unknown): number | undefined {
  const ms = parseRetryAfter(typeof value === 'string' ? value : undefined, undefined, Date.now(), 300_000)
  return ms === undefined ? undefined : Math.ceil(ms / 1000)
}

/** An upstream fault an SDK or client threw: an unavailable answer, or a connection that failed (`status` 0). */
export interface Fault {
  status: number
  timeout: boolean
  requestId?: string
  url?: string
  retryAfter?: number
}

/**
 * Recognises an error thrown because an AI upstream could not serve: a 429, 408 or 5xx, or no answer
 * at all, in any of the shapes `answerOf` reads. Anything else (a database's ECONNREFUSED, the
 * application's own errors) is left alone.
 */
export function recogniseFault (error: unknown): Fault | undefined {
  const answer = answerOf(error)
  if (answer === undefined) return undefined
  let found: Fault
  if (answer.connection !== undefined) found = { status: 0, timeout: answer.connection.timeout }
  else if (typeof answer.status === 'number' && unavailable(answer.status)) found = { status: answer.status, timeout: answer.status === 408 }
  else return undefined
  const retryAfter = retryAfterSeconds(get(answer.headers, 'retry-after'))
  if (retryAfter !== undefined) found.retryAfter = retryAfter
  return described(found, answer)
}

/** Members SDK errors keep the upstream's request id in. */
const ID_MEMBERS = new Set<PropertyKey>(['requestID', 'requestId', 'request_id'])

/** A name or code fit to log: a short token, not text. */
const TOKEN = /^[\w.$:-]{1,64}$/

/** What a member that cannot be deleted is set to. */
const WITHHELD = '[withheld by fastify-keyguard]'

/**
 * The members of an upstream error that are kept: its name and code (short tokens that share nothing
 * with a secret), its status, the upstream request id when it is clean, and symbol markers (Vercel's
 * `isInstance` reads them; loggers never print them). Everything else may hold the upstream's body,
 * headers, message or our request, today (`apiMessage`, `details`, `httpResponse`, …) or in the next
 * version of an SDK, so it goes.
 */
function safe (member: PropertyKey, value: unknown, secrets: readonly string[]): boolean {
  if (typeof member === 'symbol') return typeof value === 'boolean'
  if (member === 'status' || member === 'statusCode') return typeof value === 'number'
  if (member === 'name' || member === 'code') {
    return typeof value === 'number' || (typeof value === 'string' && TOKEN.test(value) && !echoes(value, secrets))
  }
  // The upstream's request id is worth logging, unless it echoes our key (a gateway copying Authorization).
  return ID_MEMBERS.has(member) && requestIdOf(value, secrets) !== undefined
}

/**
 * Strips an upstream error, by allow-list, of everything that came from the upstream (its message
 * echoes a masked key, its body and headers hold more) before any error handler logs or serialises it.
 */
export function sanitise (error: object, key: string | undefined, status: number, secrets: readonly string[] = [], fault = false): void {
  const err = error as Record<PropertyKey, unknown>
  for (const member of Reflect.ownKeys(err)) {
    if (member === 'message' || member === 'stack') continue
    let value: unknown
    try {
      value = err[member]
    } catch {}
    if (safe(member, value, secrets)) continue
    try {
      delete err[member]
    } catch {
      try {
        err[member] = WITHHELD
      } catch {}
    }
  }
  const which = key === undefined ? 'a guarded key' : `key "${key}"`
  const message = fault
    ? `The upstream of ${which} could not serve (${status === 0 ? 'no answer' : `HTTP ${status}`}); upstream text withheld by fastify-keyguard`
    : `The upstream rejected the credentials of ${which} (HTTP ${status}); upstream text withheld by fastify-keyguard`
  try {
    err.message = message
    // The stack's first line was written from the original message. It is replaced without being read:
    // reading a stack makes V8 format it, the largest cost of this path when nothing logs it.
    err.stack = `${String(err.name ?? 'Error')}: ${message}\n    at <the upstream client's frames are withheld by fastify-keyguard>`
  } catch {}
}
