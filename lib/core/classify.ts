import type { ProbeAnswer, ProviderSpec } from '../providers/types.js'
import { FALLBACK, isCause } from './causes.js'
import type { Cause, Facts, Verdict } from './causes.js'

const TLS: Record<string, string> = Object.freeze({
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls-self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls-self-signed',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls-self-signed',
  UNABLE_TO_GET_ISSUER_CERT: 'tls-self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls-self-signed',
  CERT_UNTRUSTED: 'tls-self-signed',
  CERT_HAS_EXPIRED: 'tls-expired',
  CERT_NOT_YET_VALID: 'tls-not-yet-valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls-hostname',
  ERR_SSL_WRONG_VERSION_NUMBER: 'tls-protocol',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'tls-protocol',
  EPROTO: 'tls-protocol'
})

/**
 * Error codes of a request that ran out of time: undici's timers, Node's sockets and HTTP client. The one
 * table of them (the upstream side reads it too). An abort is not among them: who aborted decides.
 */
export const TIMEOUT_CODES: readonly string[] = Object.freeze([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_HTTP_REQUEST_TIMEOUT'
])

/** Error codes of a request that was cancelled (an `AbortSignal`, a destroyed dispatcher). */
export const ABORT_CODES: readonly string[] = Object.freeze(['ABORT_ERR', 'UND_ERR_ABORTED', 'UND_ERR_DESTROYED'])

const NETWORK: Record<string, string> = Object.freeze({
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_CLOSED: 'reset',
  // HTTP/2: a stream reset, a session that ended or went away under the probe (retried on a new one).
  ERR_HTTP2_STREAM_ERROR: 'reset',
  ERR_HTTP2_STREAM_CANCEL: 'reset',
  ERR_HTTP2_SESSION_ERROR: 'reset',
  ERR_HTTP2_GOAWAY_SESSION: 'reset',
  ERR_HTTP2_INVALID_SESSION: 'reset',
  ERR_HTTP2_ERROR: 'protocol',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  UND_ERR_HEADERS_OVERFLOW: 'protocol',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'protocol',
  HPE_HEADER_OVERFLOW: 'protocol'
})

interface ErrorLike { code?: unknown, name?: unknown, message?: unknown, cause?: unknown }

/** The chain of an error and its causes (`fetch failed` hides the real one in `.cause`). */
function chain (err: unknown): ErrorLike[] {
  const out: ErrorLike[] = []
  let at: unknown = err
  while (at !== null && typeof at === 'object' && out.length < 8 && !out.includes(at as ErrorLike)) {
    out.push(at as ErrorLike)
    at = (at as ErrorLike).cause
  }
  return out
}

/** Classifies a failed probe attempt (no HTTP answer) by error code, never by `instanceof`. */
export function classifyError (err: unknown, origin: string, timeoutMs: number): Verdict {
  const links = chain(err)
  const facts: Facts = { origin }
  for (const link of links) {
    const code = typeof link.code === 'string' ? link.code : undefined
    const name = typeof link.name === 'string' ? link.name : ''
    const message = typeof link.message === 'string' ? link.message : ''
    if (name === 'TimeoutError') return { cause: 'unreachable', reason: 'timeout', facts: { origin, timeoutMs } }
    if (/^Proxy response \(\d+\)/.test(message) || code === 'UND_ERR_PRX_TLS' || code === 'UND_ERR_SOCKS5') {
      const status = /\((\d+)\)/.exec(message)?.[1]
      const errno = status === undefined ? {} : { errno: `HTTP ${status}` }
      return { cause: 'unreachable', reason: 'proxy', facts: { ...facts, ...errno } }
    }
    if (code === undefined) {
      if (name === 'HTTPParserError') return { cause: 'unreachable', reason: 'protocol', facts }
      continue
    }
    const tls = Object.hasOwn(TLS, code) ? TLS[code] : undefined
    if (tls !== undefined) return { cause: 'unreachable', reason: tls, facts: { ...facts, errno: code } }
    if (code.startsWith('HPE_')) return { cause: 'unreachable', reason: 'protocol', facts: { ...facts, errno: code } }
    const withCode = { ...facts, errno: code }
    if (/^(?:ERR_SSL_|ERR_TLS_|CERT_|ERR_OSSL_)/.test(code)) {
      return { cause: 'unreachable', reason: 'tls-error', facts: withCode }
    }
    // "socket hang up" / "other side closed": the peer closed without answering (e.g. http:// to a TLS port),
    // not a RST.
    if (code === 'UND_ERR_SOCKET' || (code === 'ECONNRESET' && message === 'socket hang up')) {
      return { cause: 'unreachable', reason: 'closed', facts: withCode }
    }
    if (TIMEOUT_CODES.includes(code)) return { cause: 'unreachable', reason: 'timeout', facts: { origin, timeoutMs } }
    const network = Object.hasOwn(NETWORK, code) ? NETWORK[code] : undefined
    if (network !== undefined) return { cause: 'unreachable', reason: network, facts: { ...facts, errno: code } }
    if (ABORT_CODES.includes(code)) continue
    if (/^E[A-Z]+$/.test(code)) return { cause: 'unreachable', reason: 'network', facts: { ...facts, errno: code } }
  }
  return { cause: 'unreachable', reason: 'network', facts: { ...facts, errno: 'error' } }
}

const CDN_SERVER = /cloudflare|akamai|cloudfront|fastly|varnish|imperva|incapsula|sucuri/i
const CDN_BODY = /cloudflare|cf-error|attention required|ray id|access denied|request blocked|web application firewall/i

/** A CDN or WAF page, as opposed to an answer from the provider's API. */
function fromCdn (answer: ProbeAnswer): boolean {
  const type = answer.headers['content-type'] ?? ''
  if (/json/i.test(type)) return false
  return answer.headers['cf-ray'] !== undefined || CDN_SERVER.test(answer.headers.server ?? '') ||
    (/html/i.test(type) && CDN_BODY.test(answer.text))
}

function originOf (location: string | undefined, base: string): string | undefined {
  if (location === undefined) return undefined
  try {
    return new URL(location, base).origin
  } catch {
    return undefined
  }
}

/** The media type of a Content-Type, and nothing else of it: the header is upstream text. */
function mediaType (header: string | undefined): string {
  const type = header?.split(';')[0]?.trim().toLowerCase() ?? ''
  if (type === '') return 'none'
  return /^[a-z]+\/[a-z0-9.+-]{1,64}$/.test(type) ? type : 'unrecognised'
}

/** Causes a provider's own `classify` may return (ProbeRefinement). */
const REFINED: readonly Cause[] = Object.freeze(['valid', 'rejected', 'forbidden', 'limited', 'unreachable'])
/** A machine code: what a custom `classify` names its reason must be fit for logs and reports. */
const REASON = /^[A-Za-z0-9][\w.-]{0,63}$/

/**
 * Classifies an HTTP answer: the provider's own rules first, then the status, and the body only to
 * refine (`faults.md` Appendix 2). A 2xx of the wrong shape is `unreachable`, never `valid`.
 */
export function classify (
  answer: ProbeAnswer, provider: ProviderSpec, origin: string, onFault: (err: Error) => void = () => {}
): Verdict {
  const httpStatus = answer.status
  const facts: Facts = { origin }
  // A custom provider's functions are the application's code: whatever they throw or return, the verdict is
  // one of ours.
  const fault = (err: unknown): Verdict => {
    const type = err === null ? 'null' : typeof err
    onFault(err instanceof Error ? err : new TypeError(`threw a non-Error value (${type})`))
    return { cause: 'unreachable', reason: 'provider-code', facts, httpStatus }
  }
  let own: unknown
  try {
    own = provider.classify?.(answer)
  } catch (err) {
    return fault(err)
  }
  if (own !== undefined) {
    const cause = own !== null && typeof own === 'object' && Object.hasOwn(own, 'cause')
      ? (own as { cause: unknown }).cause
      : undefined
    if (!isCause(cause) || !REFINED.includes(cause)) {
      const what = cause === undefined ? 'no own cause' : 'an unknown cause'
      return fault(new TypeError(`returned ${what}; expected undefined or { cause: ${REFINED.join(' | ')}, reason? }`))
    }
    const reason = Object.hasOwn(own as object, 'reason') ? (own as { reason: unknown }).reason : undefined
    const fit = typeof reason === 'string' && REASON.test(reason) ? reason : FALLBACK[cause] ?? 'unexpected-status'
    return { cause, reason: fit, facts, httpStatus }
  }
  if (httpStatus >= 200 && httpStatus < 300) {
    let valid: boolean
    try {
      valid = provider.valid === undefined
        ? answer.json !== null && typeof answer.json === 'object'
        : provider.valid(answer) === true
    } catch (err) {
      return fault(err)
    }
    if (valid) return { cause: 'valid', reason: 'ok', httpStatus }
    const contentType = mediaType(answer.headers['content-type'])
    return { cause: 'unreachable', reason: 'unexpected-answer', facts: { ...facts, contentType }, httpStatus }
  }
  if (httpStatus >= 300 && httpStatus < 400) {
    const target = originOf(answer.headers.location, origin)
    const to = target === undefined ? facts : { ...facts, target }
    return { cause: 'unreachable', reason: 'redirect', facts: to, httpStatus }
  }
  if (httpStatus === 401) return { cause: 'rejected', reason: 'unauthorized', httpStatus }
  if (httpStatus === 403) {
    return fromCdn(answer)
      ? { cause: 'unreachable', reason: 'cdn', facts, httpStatus }
      : { cause: 'forbidden', reason: 'forbidden', httpStatus }
  }
  if (httpStatus === 402) return { cause: 'limited', reason: 'billing', httpStatus }
  if (httpStatus === 429) return { cause: 'limited', reason: 'rate-limited', httpStatus }
  if (httpStatus === 404 || httpStatus === 405) return { cause: 'unreachable', reason: 'not-found', facts, httpStatus }
  if (httpStatus === 407) return { cause: 'unreachable', reason: 'proxy', facts, httpStatus }
  if (httpStatus >= 500 || httpStatus === 408) {
    return { cause: 'unreachable', reason: fromCdn(answer) ? 'cdn' : 'server-error', facts, httpStatus }
  }
  return { cause: 'unreachable', reason: 'unexpected-status', facts, httpStatus }
}

/** Whether a verdict is worth another attempt within the same probe. */
export function transient (verdict: Verdict): boolean {
  if (verdict.cause !== 'unreachable') return false
  // A timeout is not retried: a hanging provider would only hang again, and boot time would multiply.
  return ['refused', 'reset', 'closed', 'dns', 'network', 'server-error', 'cdn'].includes(verdict.reason)
}
