import { TIMEOUT_CODES } from '../core/classify.js'
import { headerRecord, requestIdHeader } from '../core/http.js'
import { requestIdOf } from '../core/redact.js'
import { parseRetryAfter } from '../core/retry-after.js'

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

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object'

/** What an upstream client's error tells of the answer it got. */
export interface Answer {
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
export function answerOf (error: unknown): Answer | undefined {
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
  if (kind === 'APIConnectionError' || kind === 'APIConnectionTimeoutError') {
    return { connection: { timeout: kind === 'APIConnectionTimeoutError' } }
  }
  return undefined
}

/** The request id and URL an answer gives, when usable. */
export function described<T extends { status: number, requestId?: string, url?: string }> (found: T,
  answer: Answer): T {
  const id = requestIdOf(answer.requestId ?? requestIdHeader(headerRecord(answer.headers)))
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

/** An error's body as text: the classifiers read text and parse JSON from it themselves. */
export function bodyText (body: unknown): string {
  if (typeof body === 'string') return body
  try {
    return JSON.stringify(body) ?? ''
  } catch {
    return ''
  }
}

/** An answer that says the upstream cannot serve now: 429, 408 or a 5xx. */
export const unavailable = (status: number): boolean =>
  status === 429 || status === 408 || (status >= 500 && status <= 599)

/** Whether a failed request timed out (undici's timers, or an abort by the caller's deadline). */
export function timedOut (err: unknown): boolean {
  const { code, name } = err as { code?: unknown, name?: unknown }
  // An abort is the caller's own deadline (an SDK's timeout), not a torn connection: UND_ERR_DESTROYED is not one.
  const timeout = typeof code === 'string' &&
    (TIMEOUT_CODES.includes(code) || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR')
  return timeout || name === 'TimeoutError' || name === 'AbortError'
}

/** A `Retry-After` fit to pass on: parsed strictly (delay-seconds or HTTP-date), capped, in whole seconds. */
export function retryAfterSeconds (value: unknown): number | undefined {
  const ms = parseRetryAfter(typeof value === 'string' ? value : undefined, undefined, Date.now())
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
  else if (typeof answer.status === 'number' && unavailable(answer.status)) {
    found = { status: answer.status, timeout: answer.status === 408 }
  } else return undefined
  const retryAfter = retryAfterSeconds(headerRecord(answer.headers)['retry-after'])
  if (retryAfter !== undefined) found.retryAfter = retryAfter
  return described(found, answer)
}
