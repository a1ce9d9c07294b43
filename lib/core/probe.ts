import { request as httpRequest } from 'node:http'
import type { Agent as HttpAgent, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { ClientHttp2Session } from 'node:http2'
import { request as httpsRequest } from 'node:https'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { ProbeAnswer, ProviderSpec } from '../providers/types.js'
import { requestIdOf, upstreamText } from './redact.js'
import type { SecretForms } from './redact.js'
import { parseRetryAfter } from './retry-after.js'
import { backoff, PROBE_BACKOFF, sleep } from './schedule.js'
import { netError, undici } from './transport.js'
import type { Route } from './transport.js'
import type { Inject } from './telemetry.js'
import { classify, classifyError, transient } from './classify.js'
import type { Verdict } from './causes.js'
import { headerRecord, parseJson, requestIdHeader } from './http.js'

/** How much of a probe answer is read: enough for any error envelope and a model list's first entries. */
export const BODY_CAP = 16 * 1024

/** How one probe runs. */
export interface ProbeSettings {
  /** Deadline of one attempt: connect, headers and the whole (capped) body. */
  timeout: number
  /** Further attempts after a transient failure. */
  retries: number
  /** undici dispatcher to send through (a proxy agent, a test agent); node:http(s) when absent. */
  dispatcher?: Dispatcher | undefined
  /**
   * How a probe reaches its origin when there is no `dispatcher` (`ProbeTransport.route`): an origin's
   * shared HTTP/2 session or keep-alive agent. @default a fresh, non-keep-alive HTTP/1.1 agent per probe
   */
  route?: ((url: URL, timeout: number) => Promise<Route>) | undefined
  /** Aborts the probe at once (the server is closing). */
  signal: AbortSignal
  /**
   * Runs `fn` when `signal` aborts; returns what stops that. An app's probes share its close signal, and an
   * EventTarget walks every listener on each add: the app gives one listener that calls a set instead.
   * @default a listener on `signal` per attempt
   */
  onAbort?: ((fn: () => void) => () => void) | undefined
  /** `performance.now()` by which the whole probe, retries included, must be over. */
  deadline?: number
  /** Source of jitter, `[0, 1)`. */
  random?: () => number
  /** `User-Agent` sent with the probe. */
  userAgent?: string
  /** Called with what a custom provider's `classify` or `valid` threw or returned wrongly (verdict `provider-code`). */
  onFault?: (err: Error) => void
  /** The app's cache of secret forms, for the echo checks of upstream text. */
  forms?: SecretForms
  /** Adds the trace context of the probe's span to its headers (set only while a tracer is active). */
  inject?: Inject | undefined
  /** The probe URL (`probeUrl`), when the caller has it already; never changed. */
  url?: URL | undefined
}

interface RawAnswer {
  status: number
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>
  body: Readable
}

/** The probe URL: the provider's probe path under the base URL's path. */
export function probeUrl (baseUrl: string, provider: ProviderSpec): URL {
  const base = new URL(baseUrl)
  // Joined as text after the origin: resolved against it, a path such as `//evil.example/` would change the
  // host.
  return new URL(base.origin + base.pathname.replace(/\/+$/, '') + provider.probe.path)
}

type Headers = Record<string, string>

async function viaNode (
  url: URL, method: string, headers: Headers, body: string | undefined, stop: Stop,
  route: ProbeSettings['route'], timeout: number
): Promise<RawAnswer> {
  const way = route === undefined ? { agent: undefined } : await untilStopped(route(url, timeout), stop)
  return 'session' in way
    ? await viaSession(way.session, url, method, headers, body, stop)
    : await viaAgent(url, method, headers, body, stop, way.agent)
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2): a custom provider's `host` becomes the session's `:authority`. */
const CONNECTION_HEADERS = /^(?:connection|keep-alive|proxy-connection|transfer-encoding|upgrade|host|te)$/

function viaSession (
  session: ClientHttp2Session, url: URL, method: string, headers: Headers, body: string | undefined, stop: Stop
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const head: OutgoingHttpHeaders = { ':method': method, ':path': url.pathname + url.search }
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase()
      if (!CONNECTION_HEADERS.test(lower)) head[lower] = headers[name]
    }
    const stream = session.request(head, { endStream: body === undefined })
    stream.on('error', reject)
    stop.on(() => stream.destroy())
    // A stream the origin ends with NO_ERROR (its session destroyed, a GOAWAY below its id) closes without one.
    const onClose = (): void =>
      reject(netError(`HTTP/2 stream closed, code ${stream.rstCode ?? 0}`, 'ERR_HTTP2_STREAM_ERROR'))
    stream.once('close', onClose)
    stream.once('response', (got) => {
      stream.removeListener('close', onClose)
      const { ':status': status, ...rest } = got
      resolve({ status: Number(status), headers: rest, body: stream })
    })
    if (body !== undefined) stream.end(body)
  })
}

function viaAgent (
  url: URL, method: string, headers: Headers, body: string | undefined, stop: Stop, agent: HttpAgent | undefined
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    // Without a shared agent (its owner destroys it on close), agent: false: a fresh, non-keep-alive agent,
    // so no socket outlives the probe.
    const req = send(url, { method, headers, agent: agent ?? false }, (res) => {
      // A parse error mid-body reaches only the request; the response would just say "aborted".
      req.on('error', (err) => res.destroy(err))
      stop.on(() => res.destroy())
      // statusCode is optional only because servers share IncomingMessage; a client response has one.
      resolve({ status: res.statusCode as number, headers: res.headers, body: res })
    })
    req.on('error', reject)
    stop.on(() => req.destroy())
    req.end(body)
  })
}

async function viaDispatcher (
  dispatcher: Dispatcher, url: URL, method: string, headers: Headers, body: string | undefined, stop: Stop
): Promise<RawAnswer> {
  // undici takes a signal: made here only, as most probes go through node:http(s) and need none.
  const controller = new AbortController()
  const options = { method: method as Dispatcher.HttpMethod, headers, body: body ?? null, signal: controller.signal }
  // A dispatcher from the undici package has request() on its prototype; a bare one goes through undici's.
  const pending = typeof dispatcher.request === 'function'
    ? dispatcher.request({ ...options, origin: url.origin, path: url.pathname + url.search })
    : undici().request(url, { ...options, dispatcher })
  const drop = (late: Dispatcher.ResponseData): void => { late.body.on('error', () => {}).destroy() }
  const res = await untilStopped(pending, stop, drop, (reason) => controller.abort(reason))
  stop.on(() => res.body.destroy())
  return { status: res.statusCode, headers: res.headers, body: res.body }
}

/**
 * What ends one attempt early, its deadline or the app's close: the step in flight (the wait for a
 * connection, the request, the body) registers what stops it, and runs it at once if the attempt is over.
 * A stopped stream is destroyed without an error (a response not yet read has no 'error' listener); the
 * attempt reports the stop's reason, not what the stream then says or the part of its body it gave.
 * It replaces an AbortController per attempt and the listeners Node and the attempt put on its signal
 * (issue 17: 50 cold node:http2 requests took about 1 ms more to send with a signal each).
 */
export class Stop {
  stopped = false
  reason: unknown
  #step: ((reason: unknown) => void) | undefined

  stop (reason: unknown): void {
    if (this.stopped) return
    this.stopped = true
    this.reason = reason
    this.#step?.(reason)
  }

  /** What stops the step now in flight (it replaces the previous step's). */
  on (step: (reason: unknown) => void): void {
    this.#step = step
    if (this.stopped) step(this.reason)
  }
}

/**
 * undici holds an aborted request until a pending connect (a TLS handshake that never ends) gives up,
 * after its own 10 s connect timeout, and an origin's shared HTTP/2 handshake outlives one probe's
 * deadline: the stop settles the attempt at once, and a late answer is dropped. `also`: what else the stop
 * does (aborts undici's request).
 */
function untilStopped<T> (
  pending: Promise<T>, stop: Stop, drop?: (late: T) => void, also?: (reason: unknown) => void
): Promise<T> {
  return new Promise((resolve, reject) => {
    stop.on((reason) => {
      also?.(reason)
      reject(reason)
      pending.then(drop, () => {})
    })
    pending.then(resolve, reject)
  })
}

const prematureClose = (): Error => netError('premature close', 'ERR_STREAM_PREMATURE_CLOSE')

/**
 * Reads at most BODY_CAP bytes of the answer, then destroys the stream: nothing more is read. Listeners,
 * not `for await`: the stream's async iterator costs about 6 kB and a dozen promises per probe, which a
 * boot of 50 keys paid 50 times (issue 17).
 */
function readCapped (body: RawAnswer['body']): Promise<{ text: string, truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (truncated: boolean): void => {
      body.removeListener('data', onData).removeListener('end', onEnd).removeListener('close', onClose)
      resolve({ text: Buffer.concat(chunks).subarray(0, BODY_CAP).toString('utf8'), truncated })
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size <= BODY_CAP) return
      settle(true)
      body.destroy()
    }
    const onEnd = (): void => settle(false)
    // Closed before its end without an error (an HTTP/2 stream reset with NO_ERROR): cut short.
    const onClose = (): void => reject(prematureClose())
    body.on('error', reject).on('data', onData).once('end', onEnd).once('close', onClose)
    // Over before it was read (an empty answer whose end a dispatcher already read, or one destroyed).
    if (body.readableEnded) settle(false)
    else if (body.destroyed) reject(body.errored ?? prematureClose())
  })
}

function listen (signal: AbortSignal, fn: () => void): () => void {
  signal.addEventListener('abort', fn, { once: true })
  return () => signal.removeEventListener('abort', fn)
}

/** One attempt under its own deadline, which bounds connect, headers and body together. */
async function attempt (
  url: URL, provider: ProviderSpec, key: string, settings: ProbeSettings, timeout: number
): Promise<Verdict> {
  const auth = provider.auth ?? { header: 'authorization', scheme: 'Bearer' }
  const headers: Headers = {
    accept: 'application/json',
    // identity: never let a compressed answer (or a gzip bomb) be inflated.
    'accept-encoding': 'identity',
    'user-agent': settings.userAgent ?? 'fastify-keyguard',
    ...provider.probe.headers,
    [auth.header]: auth.scheme === undefined ? key : `${auth.scheme} ${key}`
  }
  settings.inject?.(headers)
  const method = provider.probe.method ?? 'GET'
  let body: string | undefined
  if (provider.probe.body !== undefined) {
    body = JSON.stringify(provider.probe.body)
    headers['content-type'] = 'application/json'
  }
  const stop = new Stop()
  const deadline = (): void => stop.stop(new DOMException(`probe deadline of ${timeout} ms`, 'TimeoutError'))
  const timer = setTimeout(deadline, timeout)
  const onClose = (): void => stop.stop(settings.signal.reason)
  const offClose = settings.onAbort?.(onClose) ?? listen(settings.signal, onClose)
  const started = performance.now()
  let verdict: Verdict
  try {
    const raw = settings.dispatcher === undefined
      ? await viaNode(url, method, headers, body, stop, settings.route, timeout)
      : await viaDispatcher(settings.dispatcher, url, method, headers, body, stop)
    const { text, truncated } = await readCapped(raw.body)
    // A stopped HTTP/2 stream ends its body (what came so far reads as the whole): the stop is the outcome.
    if (stop.stopped) throw stop.reason
    const got = headerRecord(raw.headers)
    const answer: ProbeAnswer = { status: raw.status, headers: got, text, json: parseJson(text, truncated), truncated }
    const latencyMs = Math.round(performance.now() - started)
    verdict = { ...classify(answer, provider, url.origin, settings.onFault), latencyMs }
    keepClean(verdict, key, settings.forms)
    const retryAfterMs = parseRetryAfter(got['retry-after'], got.date, Date.now())
    if (retryAfterMs !== undefined) verdict.retryAfterMs = retryAfterMs
    const requestId = requestIdOf(requestIdHeader(got), [key], settings.forms)
    if (requestId !== undefined) verdict.requestId = requestId
  } catch (err) {
    // node:http reports a deadline that fires mid-body as a plain reset ("aborted"); the deadline is the
    // cause.
    const cause = stop.stopped ? stop.reason : err
    verdict = settings.signal.aborted
      ? { cause: 'unreachable', reason: 'aborted' }
      : { ...classifyError(cause, url.origin, timeout), latencyMs: Math.round(performance.now() - started) }
  }
  clearTimeout(timer)
  offClose()
  return verdict
}

/** Drops the facts that came from upstream text (a redirect's host, a media type) when they echo the key. */
function keepClean (verdict: Verdict, key: string, forms: SecretForms | undefined): void {
  const facts = verdict.facts
  if (facts === undefined) return
  for (const field of ['target', 'contentType'] as const) {
    if (facts[field] !== undefined && upstreamText(facts[field], [key], forms) === undefined) delete facts[field]
  }
}

/**
 * Sends the provider's no-cost probe with `key` and classifies the answer. Redirects are never
 * followed (the key never reaches another origin), the body read is capped, transient faults are
 * retried with capped, fully jittered backoff, and the whole probe ends by `deadline`.
 */
export async function probe (
  baseUrl: string, provider: ProviderSpec, key: string, settings: ProbeSettings
): Promise<Verdict> {
  const url = settings.url ?? probeUrl(baseUrl, provider)
  const random = settings.random ?? Math.random
  const deadline = settings.deadline ?? Infinity
  let verdict: Verdict = { cause: 'unreachable', reason: 'aborted' }
  for (let round = 0; round <= settings.retries; round++) {
    const left = deadline - performance.now()
    if (settings.signal.aborted || (round > 0 && left < 50)) break
    verdict = await attempt(url, provider, key, settings, Math.max(1, Math.min(settings.timeout, left)))
    if (!transient(verdict) || round === settings.retries || settings.signal.aborted) break
    const wait = Math.min(verdict.retryAfterMs ?? backoff(round, PROBE_BACKOFF, random), PROBE_BACKOFF.cap)
    if (performance.now() + wait + 50 > deadline) break
    await sleep(wait, settings.signal)
  }
  return verdict
}
