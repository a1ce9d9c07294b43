import { test } from 'tap'
import type { ProbeAnswer } from '../lib/providers/types.js'
import { providers } from '../lib/providers/index.js'
import { CAUSES, statusOf } from '../lib/core/causes.js'
import type { Cause, Facts, NoteCode, Subject, Verdict } from '../lib/core/causes.js'
import { ABORT_CODES, classify, classifyError, TIMEOUT_CODES, transient } from '../lib/core/classify.js'
import { REASON_CODES, describe, describeNotes } from '../lib/core/wording.js'

const subject: Subject = { label: 'Acme AI', where: 'ACME_API_KEY_FILE (/run/secrets/acme)', env: 'ACME_API_KEY', fingerprint: 'ac_…1a2b', dashboard: 'https://acme.example/keys' }
const bare: Subject = { label: 'Acme AI', where: 'ACME_API_KEY', env: 'ACME_API_KEY' }
const full: Facts = {
  position: 3,
  character: 'U+200B',
  count: 3,
  suggestions: ['ACME_KEY', 'ACME_TOKEN'],
  other: 'OpenAI',
  length: 9,
  min: 20,
  max: 100,
  path: '/run/secrets/acme',
  errno: 'ELOOP',
  origin: 'https://api.acme.example',
  target: 'https://elsewhere.example',
  contentType: 'text/html',
  size: 2048,
  timeoutMs: 300
}
// Reasons a probe gives: their messages name the provider and the variable.
const PROBE_CAUSES = new Set<Cause>(['rejected', 'forbidden', 'limited', 'unreachable', 'valid'])
const UNREACHABLE = ['timeout', 'refused', 'reset', 'closed', 'dns', 'network', 'tls-self-signed', 'tls-expired', 'tls-not-yet-valid', 'tls-hostname', 'tls-protocol', 'tls-error', 'protocol', 'proxy', 'redirect', 'not-found', 'server-error', 'cdn', 'unexpected-answer', 'unexpected-status', 'aborted', 'internal']
const causeOf = (reason: string): Cause => ({
  unauthorized: 'rejected',
  'api-key-invalid': 'rejected',
  'invalid-argument': 'rejected',
  'valid-false': 'rejected',
  'invalid-token': 'rejected',
  disabled: 'rejected',
  forbidden: 'forbidden',
  'missing-scope': 'forbidden',
  'ip-not-allowed': 'forbidden',
  blocked: 'forbidden',
  'service-blocked': 'forbidden',
  'rate-limited': 'limited',
  quota: 'limited',
  billing: 'limited',
  'spend-cap': 'limited',
  capacity: 'limited',
  'no-balance': 'limited',
  'no-credit': 'limited',
  ok: 'valid',
  'fire-pass': 'valid'
} as Record<string, Cause>)[reason] ?? (UNREACHABLE.includes(reason) ? 'unreachable' : 'missing')

test('every reason renders a message and a fix, with and without facts; probe reasons name the provider and the variable', async (t) => {
  t.ok(REASON_CODES.length > 40)
  for (const reason of REASON_CODES) {
    for (const [s, facts, httpStatus] of [[subject, full, 401], [bare, {}, undefined], [subject, { ...full, count: 1, suggestions: ['ACME_KEY'], errno: 'EACCES', origin: 'http://127.0.0.1:1' }, 503], [bare, { suggestions: [] }, 200]] as const) {
      const verdict: Verdict = { cause: causeOf(reason), reason, facts: facts as Facts, ...(httpStatus === undefined ? {} : { httpStatus }) }
      const { message, fix } = describe(verdict, s)
      t.ok(message.length > 10 && fix.endsWith('.'), reason)
      t.notMatch(message, /undefined|\[object/, `${reason}: no holes`)
      t.ok(message.includes(s.env) || message.includes(s.where), `${reason}: names the variable`)
      if (PROBE_CAUSES.has(verdict.cause)) {
        t.ok(message.includes(s.label) && message.includes(s.where), `${reason}: names ${s.label} and ${s.where}`)
      }
    }
  }
  t.match(describe({ cause: 'missing', reason: 'unset', facts: { suggestions: ['ACME_KEY', 'ACME_TOKEN'] } }, subject).message, /one of them/)
  t.match(describe({ cause: 'missing', reason: 'file-missing', facts: { path: '/x', errno: 'ELOOP' } }, subject).message, /symlink loop/)
  t.match(describe({ cause: 'malformed', reason: 'invisible', facts: { position: 4, count: 3, character: 'U+200B' } }, subject).message, /and 2 more/)
  t.match(describe({ cause: 'unreachable', reason: 'closed', facts: { origin: 'http://127.0.0.1:9' } }, subject).fix, /https:\/\//, 'http:// closed: names the protocol')
  t.notMatch(describe({ cause: 'unreachable', reason: 'closed', facts: { origin: 'https://api.acme.example' } }, subject).fix, /plain http/)
  t.match(describe({ cause: 'rejected', reason: 'unauthorized', httpStatus: 401 }, bare).message, '(HTTP 401)')
  t.match(describe({ cause: 'valid', reason: 'ok' }, bare).message, 'accepted ACME_API_KEY ().'.slice(0, 20))
})

test('an unknown reason falls back by cause', async (t) => {
  t.match(describe({ cause: 'valid', reason: 'brand-new' }, subject).message, /accepted/)
  t.match(describe({ cause: 'limited', reason: 'brand-new', httpStatus: 499 }, subject).message, /rate-limited the probe .*HTTP 499/)
  t.match(describe({ cause: 'rejected', reason: 'brand-new', httpStatus: 401 }, subject).message, /rejected .*: invalid, revoked or expired/)
  t.match(describe({ cause: 'unreachable', reason: 'brand-new', httpStatus: 499 }, subject).message, /unexpected HTTP 499/)
})

test('notes render without values', async (t) => {
  const notes: NoteCode[] = ['bom', 'newline', 'whitespace', 'shape', 'file-ignored', 'empty-used-file']
  const out = describeNotes(notes, subject)
  t.equal(out.length, notes.length)
  for (const line of out) t.match(line, /ACME_API_KEY/)
})

test('statusOf follows the cause table and the unreachable policy', async (t) => {
  for (const cause of Object.keys(CAUSES) as Cause[]) {
    if (cause !== 'unreachable') t.equal(statusOf(cause, 'refuse'), CAUSES[cause].status, cause)
  }
  t.equal(statusOf('unreachable', 'warn'), 'warn')
  t.equal(statusOf('unreachable', 'degrade'), 'fail')
  t.equal(statusOf('unreachable', 'refuse'), 'fail')
  t.ok(Object.isFrozen(CAUSES))
})

const O = 'https://api.acme.example'
const err = (fields: Record<string, unknown>): Error => Object.assign(new Error(String(fields.message ?? 'x')), fields)

test('faults #31 / #32 / Appendix 1: classifyError unwraps causes and maps codes, never by instanceof', async (t) => {
  const cases: Array<[unknown, string, string?]> = [
    [new DOMException('probe deadline', 'TimeoutError'), 'timeout'],
    [Object.assign(new TypeError('fetch failed'), { cause: err({ code: 'ECONNREFUSED' }) }), 'refused', 'ECONNREFUSED'],
    [Object.assign(new TypeError('fetch failed'), { cause: err({ code: 'UND_ERR_HEADERS_TIMEOUT' }) }), 'timeout'],
    [err({ code: 'UND_ERR_ABORTED', name: 'AbortError', message: 'Proxy response (407) !== 200 when HTTP Tunneling' }), 'proxy', 'HTTP 407'],
    [err({ code: 'UND_ERR_PRX_TLS' }), 'proxy'],
    [err({ code: 'UND_ERR_SOCKS5' }), 'proxy'],
    [err({ name: 'HTTPParserError', message: 'Response does not match the HTTP/1.1 protocol' }), 'protocol'],
    [err({ code: 'HPE_INVALID_CONSTANT' }), 'protocol', 'HPE_INVALID_CONSTANT'],
    [err({ code: 'UND_ERR_HEADERS_OVERFLOW' }), 'protocol', 'UND_ERR_HEADERS_OVERFLOW'],
    [err({ code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' }), 'protocol'],
    [err({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'tls-self-signed'],
    [err({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'tls-self-signed'],
    [err({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }), 'tls-self-signed'],
    [err({ code: 'CERT_HAS_EXPIRED' }), 'tls-expired'],
    [err({ code: 'CERT_NOT_YET_VALID' }), 'tls-not-yet-valid'],
    [err({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'tls-hostname'],
    [err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'tls-protocol'],
    [err({ code: 'EPROTO' }), 'tls-protocol'],
    [err({ code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }), 'tls-error'],
    [err({ code: 'CERT_REVOKED' }), 'tls-error'],
    [err({ code: 'ECONNRESET', message: 'read ECONNRESET' }), 'reset'],
    [err({ code: 'ECONNRESET', message: 'socket hang up' }), 'closed'],
    [err({ code: 'UND_ERR_SOCKET', message: 'other side closed' }), 'closed'],
    [err({ code: 'EPIPE' }), 'reset'],
    [err({ code: 'ENOTFOUND' }), 'dns', 'ENOTFOUND'],
    [err({ code: 'EAI_AGAIN' }), 'dns'],
    [err({ code: 'UND_ERR_CONNECT_TIMEOUT', message: 'Connect Timeout Error (attempted address: 10.0.0.1:443, timeout: 300ms)' }), 'timeout'],
    [err({ code: 'EHOSTUNREACH' }), 'network', 'EHOSTUNREACH'],
    [err({ code: 'ABORT_ERR', cause: err({ code: 'ECONNRESET' }) }), 'reset'],
    [err({ code: 'UND_ERR_DESTROYED' }), 'network', 'error'],
    [err({ code: 'ERR_INVALID_CHAR' }), 'network', 'error'],
    [err({ code: 42 }), 'network', 'error'],
    [{ code: 'EHOSTUNREACH', name: 1, message: 2 }, 'network', 'EHOSTUNREACH'],
    [new DOMException('gone', 'AbortError'), 'network', 'error'],
    ['a string', 'network', 'error'],
    [null, 'network', 'error']
  ]
  for (const [error, reason, errno] of cases) {
    const verdict = classifyError(error, O, 300)
    t.equal(verdict.cause, 'unreachable')
    t.equal(verdict.reason, reason, `${String((error as Error | null)?.message ?? error)} → ${reason}`)
    if (errno !== undefined) t.equal(verdict.facts?.errno, errno)
    if (reason === 'timeout') t.same(verdict.facts, { origin: O, timeoutMs: 300 }, 'no internal address from the message')
  }
  const loop = err({ code: 'ABORT_ERR' }) as Error & { cause?: unknown }
  loop.cause = loop
  t.equal(classifyError(loop, O, 1).reason, 'network', 'a cause cycle ends')
})

const answer = (status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): ProbeAnswer => {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  let json: unknown
  try { json = JSON.parse(text) } catch {}
  return { status, headers, text, json, truncated: false }
}

test('Appendix 2: classify reads the status first and the body only to refine', async (t) => {
  const p = providers.mistral
  const cases: Array<[ProbeAnswer, Cause, string]> = [
    [answer(200, { data: [] }), 'valid', 'ok'],
    [answer(204, ''), 'unreachable', 'unexpected-answer'],
    [answer(401, { detail: 'Unauthorized' }), 'rejected', 'unauthorized'],
    [answer(403, { message: 'tier' }), 'forbidden', 'forbidden'],
    [answer(403, 'denied', { 'content-type': 'text/plain', server: 'AkamaiGHost' }), 'unreachable', 'cdn'],
    [answer(403, 'denied', { 'content-type': 'text/html', 'cf-ray': 'x' }), 'unreachable', 'cdn'],
    [answer(403, 'denied', { 'content-type': 'text/plain' }), 'forbidden', 'forbidden'],
    [answer(403, 'denied', {}), 'forbidden', 'forbidden'],
    [answer(402, {}), 'limited', 'billing'],
    [answer(429, {}), 'limited', 'rate-limited'],
    [answer(404, {}), 'unreachable', 'not-found'],
    [answer(405, {}), 'unreachable', 'not-found'],
    [answer(407, ''), 'unreachable', 'proxy'],
    [answer(408, ''), 'unreachable', 'server-error'],
    [answer(529, { type: 'overloaded_error' }), 'unreachable', 'server-error'],
    [answer(530, '<html>cloudflare</html>', { 'content-type': 'text/html' }), 'unreachable', 'cdn'],
    [answer(502, '<html>nginx</html>', { 'content-type': 'text/html' }), 'unreachable', 'server-error'],
    [answer(502, '<html>Attention Required! cloudflare</html>', { 'content-type': 'application/json' }), 'unreachable', 'server-error'],
    [answer(301, '', { location: '/v2/models' }), 'unreachable', 'redirect'],
    [answer(422, {}), 'unreachable', 'unexpected-status'],
    [answer(100, ''), 'unreachable', 'unexpected-status']
  ]
  for (const [a, cause, reason] of cases) {
    const verdict = classify(a, p, O)
    t.equal(verdict.cause, cause, `${a.status} ${a.headers['content-type'] ?? ''}`)
    t.equal(verdict.reason, reason)
    t.equal(verdict.httpStatus, a.status)
  }
  t.equal(classify(answer(301, '', { location: '/v2/models' }), p, O).facts?.target, O, 'a relative redirect stays on the origin')
  // A refinement without a reason gets the cause's default.
  const custom = { ...p, classify: (a: ProbeAnswer) => a.status === 200 ? { cause: 'valid' as const } : { cause: 'limited' as const } }
  t.equal(classify(answer(200, {}), custom, O).reason, 'ok')
  t.equal(classify(answer(500, {}), custom, O).reason, 'rate-limited')
})

test('transient: only faults of the path are retried; a timeout is not', async (t) => {
  for (const reason of ['refused', 'reset', 'closed', 'dns', 'network', 'server-error', 'cdn']) t.ok(transient({ cause: 'unreachable', reason }), reason)
  for (const reason of ['timeout', 'redirect', 'not-found', 'protocol', 'tls-expired', 'proxy', 'unexpected-answer', 'aborted']) t.notOk(transient({ cause: 'unreachable', reason }), reason)
  t.notOk(transient({ cause: 'rejected', reason: 'reset' }))
})

test('the one table of timeout codes: each is a timeout, an abort code is none, and neither is a network error', async (t) => {
  for (const code of TIMEOUT_CODES) {
    t.match(classifyError(Object.assign(new Error('x'), { code }), 'https://a.example', 250), { reason: 'timeout', facts: { timeoutMs: 250 } }, code)
  }
  for (const code of ABORT_CODES) {
    t.notOk(TIMEOUT_CODES.includes(code), code)
    t.match(classifyError(Object.assign(new Error('x'), { code }), 'https://a.example', 250), { reason: 'network', facts: { errno: 'error' } }, `${code}: the chain is read on`)
  }
})
