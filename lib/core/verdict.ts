import type { ProbeAnswer, ProviderSpec } from '../providers/types.js'

/** Why a key is in the state it is in. The README's cause table lists each with its effect. */
export type Cause = 'missing' | 'malformed' | 'rejected' | 'forbidden' | 'limited' | 'unreachable' | 'valid' | 'unchecked' | 'pending'

/** Health status of one key or of the whole report (draft-inadarei-api-health-check). */
export type Status = 'pass' | 'warn' | 'fail'

/** What `onUnreachable` makes of an `unreachable` verdict. */
export type UnreachablePolicy = 'refuse' | 'degrade' | 'warn'

/** Log level a transition into a cause is logged at. */
export type Level = 'error' | 'warn' | 'info'

interface CauseRow {
  /** Status of a key with this cause (`unreachable` depends on `onUnreachable`). */
  status: Status
  level: Level
  /** Whether a key with this cause says something about the key itself (vs. the path to the provider). */
  aboutKey: boolean
  /** Short public wording for health bodies and the CLI table. */
  summary: string
}

/**
 * The one table of causes. Boot errors, health bodies, the CLI and logs all render from it.
 * `boot`: `fail` refuses a boot under `onInvalid: 'refuse'`; readiness: `fail`/`pending` answer 503.
 */
export const CAUSES: Readonly<Record<Cause, CauseRow>> = Object.freeze({
  missing: { status: 'fail', level: 'error', aboutKey: true, summary: 'not set' },
  malformed: { status: 'fail', level: 'error', aboutKey: true, summary: 'malformed' },
  rejected: { status: 'fail', level: 'error', aboutKey: true, summary: 'rejected by the provider' },
  forbidden: { status: 'fail', level: 'error', aboutKey: true, summary: 'lacks permission' },
  limited: { status: 'warn', level: 'warn', aboutKey: false, summary: 'rate-limited or out of quota' },
  unreachable: { status: 'warn', level: 'warn', aboutKey: false, summary: 'could not be verified' },
  valid: { status: 'pass', level: 'info', aboutKey: true, summary: 'valid' },
  unchecked: { status: 'pass', level: 'info', aboutKey: false, summary: 'not probed' },
  pending: { status: 'fail', level: 'info', aboutKey: false, summary: 'not checked yet' }
})

/** The status a cause gives under a policy for `unreachable`. */
export function statusOf (cause: Cause, onUnreachable: UnreachablePolicy): Status {
  if (cause === 'unreachable') return onUnreachable === 'warn' ? 'warn' : 'fail'
  // Own properties only: a cause named `constructor` is no row of the table, and fails closed.
  return isCause(cause) ? CAUSES[cause].status : 'fail'
}

/** Whether `value` is one of the causes of the table (an own property, never a prototype member). */
export function isCause (value: unknown): value is Cause {
  return typeof value === 'string' && Object.hasOwn(CAUSES, value)
}

/** Facts a verdict carries for its message: never the key, never upstream text. */
export interface Facts {
  position?: number
  character?: string
  count?: number
  suggestions?: string[]
  other?: string
  length?: number
  min?: number
  max?: number
  path?: string
  errno?: string
  origin?: string
  target?: string
  contentType?: string
  size?: number
  timeoutMs?: number
}

/** The outcome of reading, inspecting or probing one key, before it is rendered for people. */
export interface Verdict {
  cause: Cause
  /** Stable machine code refining the cause, e.g. `zero-width`, `timeout`, `quota`. */
  reason: string
  facts?: Facts
  httpStatus?: number
  latencyMs?: number
  /** How long the provider asked us to wait (a parsed, capped `Retry-After`). */
  retryAfterMs?: number
  /** Upstream request id, for the operator to quote to the provider's support. */
  requestId?: string
}

/** Who the message is about: provider, where the key came from, and how to tell keys apart. */
export interface Subject {
  label: string
  /** Where the key was read: `FIREWORKS_API_KEY`, `FIREWORKS_API_KEY_FILE (/run/secrets/fw)`, or the `value` option. */
  where: string
  /** The variable the operator sets. */
  env: string
  /** Where a corrected key goes, when not `env`: the file `X_FILE` names, or the `value` option. */
  target?: string | undefined
  fingerprint?: string | undefined
  dashboard?: string | undefined
}

type Render = (s: Subject, f: Facts, v: Verdict) => [message: string, fix: string]

const dest = (s: Subject): string => s.target ?? s.env
// "an OpenAI key", "an xAI key", "a Groq key"
const a = (label: string): string => /^[aeiox]/i.test(label) ? `an ${label}` : `a ${label}`
const createKey = (s: Subject): string => s.dashboard === undefined ? `Create a new ${s.label} key` : `Create a new ${s.label} key at ${s.dashboard}`
const fp = (s: Subject): string => s.fingerprint === undefined ? '' : `${s.fingerprint}, `
const http = (v: Verdict): string => v.httpStatus === undefined ? '' : `HTTP ${v.httpStatus}`
const seen = (s: Subject, v: Verdict): string => `(${fp(s)}${http(v)})`.replace(', )', ')')
const at = (f: Facts): string => {
  const more = (f.count ?? 1) - 1
  return `at position ${f.position ?? 0}${more > 0 ? ` (and ${more} more)` : ''}`
}
const paste = (s: Subject): string => `Copy the key again from ${s.dashboard ?? `the ${s.label} console`} (use a plain-text editor, not a chat or a PDF) and put it in ${dest(s)}`
const fileFix = (s: Subject, f: Facts): string => `Point ${s.env}_FILE at the key file itself (e.g. the file inside the mounted secret), or unset it and set ${s.env}; checked path: ${f.path ?? '?'}`
const suggest = (f: Facts): string => {
  const names = f.suggestions ?? []
  if (names.length === 0) return ''
  return ` Found ${names.join(', ')} in the environment — did you mean ${names.length > 1 ? 'one of them' : 'it'}?`
}
const verifyLater = (s: Subject): string => `The key was not judged; try again later (a running server rechecks it on its own). If this persists, check the network path from this host to ${s.label}`
const peer = (s: Subject, f: Facts): string => f.origin === undefined ? s.label : `${s.label} (${f.origin})`

const REASONS: Record<string, Render> = {
  // missing
  unset: (s, f) => [`${s.env} is not set.${suggest(f)}`, `Set ${s.env} (or ${s.env}_FILE to a file holding the key). ${createKey(s)} if you have none`],
  empty: (s, f) => [`${s.where} is set but empty.${suggest(f)}`, `Put the key in ${s.where}; an empty value usually means a template or compose variable did not expand`],
  blank: (s, f) => [`${s.where} holds only whitespace.${suggest(f)}`, `Put the key in ${s.where}`],
  'file-missing': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which does not exist${f.errno === 'ELOOP' ? ' (symlink loop)' : ''}.`, `${fileFix(s, f)}. Relative paths are resolved against the working directory`],
  'file-denied': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which this process may not read (${f.errno ?? 'EACCES'}).`, 'Give the process read access (Kubernetes: the secret volume\'s defaultMode or the pod\'s fsGroup)'],
  'file-directory': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which is a directory.`, fileFix(s, f)],
  'file-special': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which is not a regular file (a device, FIFO or socket); it was not read.`, fileFix(s, f)],
  'file-too-large': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, a file of ${f.size ?? '?'} bytes; a key file holds one key (at most ${f.max ?? '?'} bytes). It was not read.`, fileFix(s, f)],
  'file-empty': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which is empty.`, `Write the key into ${f.path ?? 'the file'}, or point ${s.env}_FILE at the right file`],
  'file-error': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which could not be read (${f.errno ?? 'error'}).`, fileFix(s, f)],
  // malformed
  'control-character': (s, f) => [`${s.where} contains a control character, ${f.character ?? '?'}, ${at(f)}.`, `${paste(s)}; a line break inside a key usually means two values were pasted together`],
  invisible: (s, f) => [`${s.where} contains an invisible character, ${f.character ?? '?'}, ${at(f)} (pasted from a web page or a chat?).`, paste(s)],
  'non-ascii': (s, f) => [`${s.where} contains a non-ASCII character, ${f.character ?? '?'}, ${at(f)}; API keys are plain ASCII (a look-alike character from a PDF or a word processor?).`, paste(s)],
  'inner-whitespace': (s, f) => [`${s.where} contains whitespace ${at(f)}; a key is one word.`, `${paste(s)}; a space or line break inside usually means a multi-line paste or two values joined`],
  quoted: (s) => [`${s.where} is wrapped in quotes (or starts or ends with one), and the quotes are part of the value.`, 'Remove the quotes. docker run --env-file and Kubernetes YAML with nested quotes keep them; compose, dotenv and node --env-file strip them'],
  'auth-scheme': (s) => [`${s.where} starts with an auth scheme ("Bearer "); the value must be the bare key.`, `Remove the "Bearer " prefix from ${dest(s)}; the client adds it`],
  'header-line': (s) => [`${s.where} holds a whole header line ("Authorization: …"); the value must be the bare key.`, `Keep only the key itself in ${dest(s)}`],
  assignment: (s) => [`${s.where} holds an assignment ("${s.env}=…"); the value must be the bare key.`, `Keep only the part after "=" in ${dest(s)}`],
  placeholder: (s) => [`${s.where} holds a placeholder, not a key.`, `${createKey(s)} and put it in ${dest(s)}; the placeholder came from an example file or a template`],
  template: (s) => [`${s.where} holds an unexpanded template (\${…}, $(…), {{…}} or %…%); the variable was not substituted.`, 'Fix the substitution in your compose file, Helm chart or Kubernetes manifest (Kubernetes leaves an unresolvable $(VAR) as it is)'],
  'wrong-provider': (s, f) => [`${s.where} looks like ${f.other ?? 'another service'}'s key, not ${a(s.label)} key.`, `Put the ${s.label} key in ${dest(s)}; the keys of two services were probably swapped`],
  base64: (s) => [`${s.where} appears to be base64-encoded.`, 'Store the plain key. In a Kubernetes Secret, put it under stringData (plain) or base64-encode it exactly once under data'],
  'too-short': (s, f) => [`${s.where} is ${f.length ?? '?'} characters long; ${a(s.label)} key has at least ${f.min ?? '?'} (a truncated copy?).`, paste(s)],
  'admin-key': (s) => [
    `${s.where} holds ${a(s.label)} admin key, which manages the organisation and cannot call models.`,
    `Create a project or API key (not an admin key) at ${s.dashboard ?? `the ${s.label} console`} ` +
      `and put it in ${dest(s)}. ` +
      'To guard an admin key on purpose, pass a ProviderSpec that probes the admin API (README: Admin keys)'
  ],
  'too-long': (s, f) => [`${s.where} is ${f.length ?? '?'} characters long; ${a(s.label)} key has at most ${f.max ?? '?'} (a whole file or several values pasted in?).`, paste(s)],
  // rejected
  unauthorized: (s, _f, v) => [`${s.label} rejected ${s.where} ${seen(s, v)}: invalid, revoked or expired.`, `${createKey(s)} and put it in ${dest(s)}`],
  'api-key-invalid': (s, _f, v) => [`${s.label} rejected ${s.where} ${seen(s, v)}: API_KEY_INVALID.`, `${createKey(s)} and put it in ${dest(s)}`],
  'invalid-argument': (s, _f, v) => [`${s.label} rejected ${s.where} ${seen(s, v)}: incorrect API key.`, `${createKey(s)} and put it in ${dest(s)}`],
  'valid-false': (s, _f, v) => [`${s.label} says ${s.where} is not a valid key ${seen(s, v)}.`, `${createKey(s)} and put it in ${dest(s)}`],
  'invalid-token': (s, _f, v) => [`${s.label} rejected ${s.where} as an invalid token ${seen(s, v)}.`, `${createKey(s)} and put it in ${dest(s)}`],
  'unknown-key': (s, _f, v) => [
    `${s.label} does not know ${s.where} or has disabled it ${seen(s, v)}: its own not_found_error for the key.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'key-type-unsupported': (s, _f, v) => [
    `${s.label} no longer accepts the type of key in ${s.where} ${seen(s, v)}: an unrestricted standard API ` +
      'key (ACCESS_TOKEN_TYPE_UNSUPPORTED). The key is not revoked; its type is refused.',
    'Restrict the key to the Generative Language API (Google Cloud console, APIs & Services, Credentials, API ' +
      `restrictions), or create a new-style key at ${s.dashboard ?? `the ${s.label} console`} and put it in ${dest(s)}`
  ],
  disabled: (s, _f, v) => [`${s.label} reports ${s.where} as disabled ${seen(s, v)}.`, `Enable the key again or ${createKey(s).toLowerCase()}`],
  // forbidden
  forbidden: (s, _f, v) => [`${s.label} accepted ${s.where} but refused the request ${seen(s, v)}: the key lacks permission, or the account or region is blocked.`, `Check the key's permissions and the account's status at ${s.dashboard ?? `the ${s.label} console`}`],
  'missing-scope': (s, _f, v) => [`${s.label} accepted ${s.where} but it is a restricted key missing a scope ${seen(s, v)}.`, `Grant the key the scopes it needs (at least model read) at ${s.dashboard ?? `the ${s.label} console`}`],
  'ip-not-allowed': (s, _f, v) => [`${s.label} refused ${s.where} from this IP address ${seen(s, v)}.`, 'Add this host\'s egress IP to the key\'s or organisation\'s allow-list'],
  blocked: (s, _f, v) => [`${s.label} reports ${s.where} or its team as blocked ${seen(s, v)}.`, `Check the key and team status at ${s.dashboard ?? `the ${s.label} console`}`],
  'region-blocked': (s, _f, v) => [
    `${s.label} refused requests from this host ${seen(s, v)} with a region or account block; it is not ` +
      `the fault of the key in ${s.where}.`,
    `Check that ${s.label} serves this host's region (an egress IP in an unsupported country is blocked) and ` +
      `that the account is in good standing at ${s.dashboard ?? `the ${s.label} console`}; the key needs no change`
  ],
  'management-key': (s, _f, v) => [
    `${s.label} reports ${s.where} as a management (provisioning) key ${seen(s, v)}: it manages API keys and ` +
      'cannot call models.',
    `Create an API key (not a management key) at ${s.dashboard ?? `the ${s.label} console`} and put it in ${dest(s)}`
  ],
  'service-blocked': (s, _f, v) => [`${s.label} blocks ${s.where} for this API ${seen(s, v)} (API_KEY_SERVICE_BLOCKED, or an unrestricted standard key).`, `Restrict the key to the Generative Language API, or create an auth key at ${s.dashboard ?? `the ${s.label} console`}`],
  // limited
  'rate-limited': (s, _f, v) => [`${s.label} rate-limited the probe of ${s.where} ${seen(s, v)}; the key authenticated.`, 'Nothing to fix now; if it persists, lower the request rate or raise the account\'s limits'],
  quota: (s, _f, v) => [`${s.label} accepted ${s.where} but the account is out of quota ${seen(s, v)}.`, `Add credit or raise the quota at ${s.dashboard ?? `the ${s.label} console`}; waiting will not clear it`],
  billing: (s, _f, v) => [`${s.label} accepted ${s.where} but the account cannot pay ${seen(s, v)} (payment required, or suspended for billing).`, `Settle billing at ${s.dashboard ?? `the ${s.label} console`}`],
  'spend-cap': (s, _f, v) => [`${s.label} accepted ${s.where} but the account reached its spend limit ${seen(s, v)}.`, `Raise the spend limit at ${s.dashboard ?? `the ${s.label} console`}`],
  capacity: (s, _f, v) => [`${s.label} accepted ${s.where} but has no capacity for it now ${seen(s, v)}.`, 'Nothing to fix in the key; retry later or change the service tier'],
  'no-balance': (s, _f, v) => [`${s.label} accepted ${s.where} but the balance is empty ${seen(s, v)}.`, `Top up at ${s.dashboard ?? `the ${s.label} console`}`],
  'no-credit': (s, _f, v) => [`${s.label} accepted ${s.where} but its credit limit is used up ${seen(s, v)}.`, `Raise the key's limit or add credit at ${s.dashboard ?? `the ${s.label} console`}`],
  // unreachable
  timeout: (s, f) => [`The probe of ${s.where} at ${peer(s, f)} did not finish within ${f.timeoutMs ?? '?'} ms.`, verifyLater(s)],
  refused: (s, f) => [`The probe of ${s.where} could not connect to ${peer(s, f)}: connection refused.`, `${verifyLater(s)}; if baseUrl is set, check its host and port`],
  reset: (s, f) => [`The connection to ${peer(s, f)} was reset while probing ${s.where}.`, verifyLater(s)],
  closed: (s, f) => [`${peer(s, f)} closed the connection before a complete answer while probing ${s.where}.`, f.origin?.startsWith('http:') === true ? `Check baseUrl: a port that speaks HTTPS closes plain http:// requests like this, so use https://. Otherwise: ${verifyLater(s)}` : verifyLater(s)],
  dns: (s, f) => [`The host of ${peer(s, f)} could not be resolved (${f.errno ?? 'DNS'}) while probing ${s.where}.`, `Check the host name in baseUrl and this host's DNS; ${verifyLater(s).toLowerCase()}`],
  network: (s, f) => [`The network path to ${peer(s, f)} failed (${f.errno ?? 'error'}) while probing ${s.where}.`, verifyLater(s)],
  'tls-self-signed': (s, f) => [`The TLS certificate of ${peer(s, f)} is self-signed or signed by an unknown authority (${f.errno ?? 'TLS'}); ${s.where} was not sent.`, 'If a corporate proxy inspects TLS, add its CA with NODE_EXTRA_CA_CERTS; never disable certificate checks'],
  'tls-expired': (s, f) => [`The TLS certificate of ${peer(s, f)} has expired (${f.errno ?? 'TLS'}); ${s.where} was not sent.`, 'Check this host\'s clock; if it is right, the endpoint\'s certificate is broken'],
  'tls-not-yet-valid': (s, f) => [`The TLS certificate of ${peer(s, f)} is not valid yet (${f.errno ?? 'TLS'}); ${s.where} was not sent.`, 'Check this host\'s clock (NTP); a clock in the past makes new certificates look invalid'],
  'tls-hostname': (s, f) => [`The TLS certificate of ${peer(s, f)} is for another host name (${f.errno ?? 'TLS'}); ${s.where} was not sent.`, 'Check the host in baseUrl; a proxy or a DNS entry may point it elsewhere'],
  'tls-protocol': (s, f) => [`TLS to ${peer(s, f)} failed (${f.errno ?? 'TLS'}) while probing ${s.where}: the port does not speak HTTPS.`, 'Check baseUrl: https:// to a plain-HTTP port, or the wrong port'],
  'tls-error': (s, f) => [`TLS to ${peer(s, f)} failed (${f.errno ?? 'TLS'}); ${s.where} was not verified.`, 'Check the endpoint\'s certificate and any TLS-inspecting proxy (NODE_EXTRA_CA_CERTS)'],
  protocol: (s, f) => [`${peer(s, f)} did not answer in valid HTTP (${f.errno ?? 'parse error'}) while probing ${s.where}.`, 'Check baseUrl: the port may belong to another service, or http:// may point at an HTTPS port'],
  proxy: (s, f) => [`The proxy refused the tunnel to ${peer(s, f)}${f.errno === undefined ? '' : ` (${f.errno})`} while probing ${s.where}.`, 'Check HTTPS_PROXY / HTTP_PROXY (and their credentials) and NO_PROXY'],
  redirect: (s, f, v) => [`${peer(s, f)} answered the probe of ${s.where} with a redirect (${http(v)}) to ${f.target ?? 'another location'}; it was not followed, so the key was not sent there.`, 'Set baseUrl to the final address'],
  'not-found': (s, f, v) => [`${peer(s, f)} has no probe endpoint at the configured path (${http(v)}); ${s.where} was not judged.`, `Check baseUrl: it is the root the provider's paths start from (e.g. ${s.label}'s default), without /v1`],
  'server-error': (s, f, v) => [`${peer(s, f)} answered the probe of ${s.where} with a server error (${http(v)}).`, verifyLater(s)],
  cdn: (s, f, v) => [`A CDN or firewall page answered for ${peer(s, f)} (${http(v)}) while probing ${s.where}; the provider itself did not judge the key.`, verifyLater(s)],
  'unexpected-answer': (s, f, v) => [`${peer(s, f)} answered the probe of ${s.where} with ${http(v)} but not the expected answer (${f.contentType ?? 'no content type'}): a captive portal, a proxy page or a wrong baseUrl?`, `Check baseUrl and any proxy between this host and ${s.label}`],
  'unexpected-status': (s, f, v) => [`${peer(s, f)} answered the probe of ${s.where} with an unexpected ${http(v)}.`, `${verifyLater(s)}; check baseUrl if it is set`],
  'provider-code': (s) => [`The classify() or valid() of the ${s.label} ProviderSpec failed while judging ${s.where} (details are in the log); the key was not judged.`, 'Fix the ProviderSpec: classify() returns undefined or { cause, reason? } with a cause of valid, rejected, forbidden, limited or unreachable, and neither function may throw'],
  internal: (s) => [`keyguard could not finish checking the ${s.label} key in ${s.where} (an internal error; details are in the log).`, 'Report it with the log line to fastify-keyguard; the key was not judged'],
  aborted: (s) => [`The probe of ${s.where} at ${s.label} was cancelled (the server is closing).`, 'None needed'],
  // valid, unchecked, pending
  ok: (s, _f, v) => [`${s.label} accepted ${s.where} ${seen(s, v)}.`, 'None needed'],
  'fire-pass': (s, _f, v) => [`${s.label} accepted ${s.where} as a Fire Pass key ${seen(s, v)}: valid for chat on router models, refused on list routes.`, 'None needed'],
  'restricted-key': (s, _f, v) => [
    `${s.label} accepted ${s.where} as a restricted key ${seen(s, v)}: it may use data-plane routes (upsert, ` +
      'query) but not the control-plane route that lists indexes.',
    'None needed; grant control-plane access only if the application manages indexes'
  ],
  'scoped-key': (s, _f, v) => [
    `${s.label} accepted ${s.where} as a key limited to some endpoints ${seen(s, v)} (it lacks the user_read ` +
      'permission the probe route needs).',
    'None needed, unless the application reads account data'
  ],
  'probe-disabled': (s) => [`${s.where} passed the offline checks; the live probe is off for it.`, 'None needed'],
  'not-configured': (s, f) => [`${s.env} is not set; the key is optional, so routes that need it answer 503.${suggest(f)}`, `Set ${s.env} to enable the routes that use ${s.label}`],
  pending: (s) => [`${s.where} has not been checked yet.`, 'Wait for the first check']
}

/** Every reason code that has its own wording. */
export const REASON_CODES: readonly string[] = Object.freeze(Object.keys(REASONS))

/** Value-free notes that accompany a verdict: what was normalised or ignored on the way. */
export type NoteCode = 'bom' | 'newline' | 'whitespace' | 'shape' | 'file-ignored' | 'empty-used-file' | 'rotation-refused'

const NOTES: Record<NoteCode, (s: Subject) => string> = {
  bom: (s) => `Removed a leading byte-order mark (U+FEFF) from ${s.where}; save the file as UTF-8 without BOM.`,
  newline: (s) => `Removed a trailing line break from ${s.where}; write secrets with printf or echo -n.`,
  whitespace: (s) => `Removed surrounding whitespace from ${s.where}.`,
  shape: (s) => `${s.where} does not have the usual shape of a ${s.label} key; the live probe decides.`,
  'file-ignored': (s) => `${s.env}_FILE is also set and was ignored: ${s.env} takes precedence.`,
  'empty-used-file': (s) => `${s.env} is set but empty; the key was read from ${s.env}_FILE.`,
  'rotation-refused': (s) => `${s.where} now holds a different key, which ${s.label} refused; the previous key (${s.fingerprint as string}) stays in use until a new one is accepted.`
}

/** Renders notes for people. */
export function describeNotes (notes: readonly NoteCode[], subject: Subject): string[] {
  return notes.map((note) => NOTES[note](subject))
}

/** Wording of a verdict whose reason has none of its own (a custom provider's reason code). */
const FALLBACK: Partial<Record<Cause, string>> = { valid: 'ok', rejected: 'unauthorized', forbidden: 'forbidden', limited: 'rate-limited' }

/** Renders a verdict for people: the message names the provider and the variable, the fix says what to do. */
export function describe (verdict: Verdict, subject: Subject): { message: string, fix: string } {
  // Own properties only: a reason named `constructor` or `__proto__` gets its cause's wording.
  const reason = Object.hasOwn(REASONS, verdict.reason) ? verdict.reason : FALLBACK[verdict.cause] ?? 'unexpected-status'
  const render = REASONS[reason] as Render
  const [message, fix] = render(subject, verdict.facts ?? {}, verdict)
  return { message, fix: fix.replace(/\.?$/, '.') }
}

const TLS: Record<string, string> = {
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
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_CLOSED: 'reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_OVERFLOW: 'protocol',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'protocol',
  HPE_HEADER_OVERFLOW: 'protocol',
  ERR_HTTP_REQUEST_TIMEOUT: 'timeout'
}

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
      return { cause: 'unreachable', reason: 'proxy', facts: { ...facts, ...(status === undefined ? {} : { errno: `HTTP ${status}` }) } }
    }
    if (code === undefined) {
      if (name === 'HTTPParserError') return { cause: 'unreachable', reason: 'protocol', facts }
      continue
    }
    const tls = Object.hasOwn(TLS, code) ? TLS[code] : undefined
    if (tls !== undefined) return { cause: 'unreachable', reason: tls, facts: { ...facts, errno: code } }
    if (code.startsWith('HPE_')) return { cause: 'unreachable', reason: 'protocol', facts: { ...facts, errno: code } }
    if (/^(?:ERR_SSL_|ERR_TLS_|CERT_|ERR_OSSL_)/.test(code)) return { cause: 'unreachable', reason: 'tls-error', facts: { ...facts, errno: code } }
    // "socket hang up" / "other side closed": the peer closed without answering (e.g. http:// to a TLS port), not a RST.
    if (code === 'UND_ERR_SOCKET' || (code === 'ECONNRESET' && message === 'socket hang up')) return { cause: 'unreachable', reason: 'closed', facts: { ...facts, errno: code } }
    const network = Object.hasOwn(NETWORK, code) ? NETWORK[code] : undefined
    if (network === 'timeout') return { cause: 'unreachable', reason: 'timeout', facts: { origin, timeoutMs } }
    if (network !== undefined) return { cause: 'unreachable', reason: network, facts: { ...facts, errno: code } }
    if (code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED' || code === 'UND_ERR_DESTROYED') continue
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
  return answer.headers['cf-ray'] !== undefined || CDN_SERVER.test(answer.headers.server ?? '') || (/html/i.test(type) && CDN_BODY.test(answer.text))
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
const REFINED: readonly Cause[] = ['valid', 'rejected', 'forbidden', 'limited', 'unreachable']
/** A machine code: what a custom `classify` names its reason must be fit for logs and reports. */
const REASON = /^[A-Za-z0-9][\w.-]{0,63}$/

/**
 * Classifies an HTTP answer: the provider's own rules first, then the status, and the body only to
 * refine (`faults.md` Appendix 2). A 2xx of the wrong shape is `unreachable`, never `valid`.
 */
export function classify (answer: ProbeAnswer, provider: ProviderSpec, origin: string, onFault: (err: Error) => void = () => {}): Verdict {
  const httpStatus = answer.status
  const facts: Facts = { origin }
  // A custom provider's functions are the application's code: whatever they throw or return, the verdict is one of ours.
  const fault = (err: unknown): Verdict => {
    onFault(err instanceof Error ? err : new TypeError(`threw a non-Error value (${err === null ? 'null' : typeof err})`))
    return { cause: 'unreachable', reason: 'provider-code', facts, httpStatus }
  }
  let own: unknown
  try {
    own = provider.classify?.(answer)
  } catch (err) {
    return fault(err)
  }
  if (own !== undefined) {
    const cause = own !== null && typeof own === 'object' && Object.hasOwn(own, 'cause') ? (own as { cause: unknown }).cause : undefined
    if (!isCause(cause) || !REFINED.includes(cause)) {
      return fault(new TypeError(`returned ${cause === undefined ? 'no own cause' : 'an unknown cause'}; expected undefined or { cause: ${REFINED.join(' | ')}, reason? }`))
    }
    const reason = Object.hasOwn(own as object, 'reason') ? (own as { reason: unknown }).reason : undefined
    return { cause, reason: typeof reason === 'string' && REASON.test(reason) ? reason : FALLBACK[cause] ?? 'unexpected-status', facts, httpStatus }
  }
  if (httpStatus >= 200 && httpStatus < 300) {
    let valid: boolean
    try {
      valid = provider.valid === undefined ? answer.json !== null && typeof answer.json === 'object' : provider.valid(answer) === true
    } catch (err) {
      return fault(err)
    }
    if (valid) return { cause: 'valid', reason: 'ok', httpStatus }
    return { cause: 'unreachable', reason: 'unexpected-answer', facts: { ...facts, contentType: mediaType(answer.headers['content-type']) }, httpStatus }
  }
  if (httpStatus >= 300 && httpStatus < 400) {
    const target = originOf(answer.headers.location, origin)
    return { cause: 'unreachable', reason: 'redirect', facts: target === undefined ? facts : { ...facts, target }, httpStatus }
  }
  if (httpStatus === 401) return { cause: 'rejected', reason: 'unauthorized', httpStatus }
  if (httpStatus === 403) return fromCdn(answer) ? { cause: 'unreachable', reason: 'cdn', facts, httpStatus } : { cause: 'forbidden', reason: 'forbidden', httpStatus }
  if (httpStatus === 402) return { cause: 'limited', reason: 'billing', httpStatus }
  if (httpStatus === 429) return { cause: 'limited', reason: 'rate-limited', httpStatus }
  if (httpStatus === 404 || httpStatus === 405) return { cause: 'unreachable', reason: 'not-found', facts, httpStatus }
  if (httpStatus === 407) return { cause: 'unreachable', reason: 'proxy', facts, httpStatus }
  if (httpStatus >= 500 || httpStatus === 408) return { cause: 'unreachable', reason: fromCdn(answer) ? 'cdn' : 'server-error', facts, httpStatus }
  return { cause: 'unreachable', reason: 'unexpected-status', facts, httpStatus }
}

/** Whether a verdict is worth another attempt within the same probe. */
export function transient (verdict: Verdict): boolean {
  if (verdict.cause !== 'unreachable') return false
  // A timeout is not retried: a hanging provider would only hang again, and boot time would multiply.
  return ['refused', 'reset', 'closed', 'dns', 'network', 'server-error', 'cdn'].includes(verdict.reason)
}

/**
 * The runtime face of the fourth cause: the upstream rejected a request that carried another credential
 * than the guarded key (`sent` is its fingerprint), or, when keyguard could not see what was sent, a
 * request was rejected while the guarded key passes its probe. The guarded key is not to blame.
 */
export function describeMismatch (s: Subject, sent: string | undefined): { message: string, fix: string } {
  // Only a key that passes has a mismatch, and such a key has a fingerprint.
  const guarded = `${s.env} (${String(s.fingerprint)})`
  const fix = 'Build the client with app.keyguard.key(): it reads another variable, or was built with an old key before a rotation'
  if (sent === undefined) {
    return {
      message: `${s.label} rejected a request at runtime, yet ${guarded} passes its probe: the request most likely carried another credential.`,
      fix: `${fix}; pass app.keyguard.fetch to the client so keyguard can tell which credential it sent.`
    }
  }
  return {
    message: `${s.label} rejected a request at runtime that carried ${sent}, not ${guarded}; the guarded key was not at fault.`,
    fix: `${fix}.`
  }
}
