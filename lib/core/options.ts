import type { Dispatcher } from 'undici'
import { FST_KEYGUARD_OPTIONS, PROBLEM_TYPES } from './errors.js'
import { foreignPrefixes, providers } from '../providers/index.js'
import type { ProviderId } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'
import { looksLikeKey } from './redact.js'
import type { Change, Report } from './report.js'
import type { Env } from './source.js'
import type { UnreachablePolicy } from './verdict.js'

/**
 * One key to guard. Every field is optional but `provider` (or a `name` that is a provider id).
 *
 * @example
 * { name: 'fireworks-eu', provider: 'fireworks', env: 'FIREWORKS_EU_KEY', baseUrl: 'https://gw.example.com/fireworks' }
 */
export interface KeySpec {
  /** The key's name in reports, route config and `key(name)`. @default the provider id */
  name?: string
  /** A shipped provider's id, or a `ProviderSpec` for one keyguard does not ship. @default `name` */
  provider?: ProviderId | ProviderSpec
  /** The variable to read; its `_FILE` twin is read when it is unset. @default the provider's, e.g. `FIREWORKS_API_KEY` */
  env?: string
  /** The key itself, instead of reading the environment (it is still inspected and probed). */
  value?: string
  /**
   * Where the provider's paths start, for the probe and for recognising upstream answers: a gateway,
   * a proxy or a local stand-in. `https:` only, `http:` for loopback hosts; no credentials or query.
   * @default the provider's, e.g. `https://api.fireworks.ai`
   */
  baseUrl?: string
  /** `false`: an absent key is `unchecked` (boot goes on) and routes gated on it answer 503. @default true */
  required?: boolean
  /** `false`: inspect the key offline only, never send it. @default true */
  probe?: boolean
}

/** The live probe. */
export interface ProbeOptions {
  /** Deadline of one probe attempt in ms: connect, headers and body together. @default 5000 */
  timeout?: number
  /** Further attempts after a transient failure (refused, reset, DNS, 5xx). @default 2 */
  retries?: number
  /** Recheck every key this often (ms); `0` turns every timer off (rechecks only by `recheck()` or upstream 401s). @default 600000 */
  interval?: number
  /** Spread of `interval`, as a fraction: 0.2 = ±20 %. @default 0.2 */
  jitter?: number
  /** An undici `Dispatcher` to probe through (a `ProxyAgent`, a test agent). Never closed by keyguard. */
  dispatcher?: Dispatcher
}

/** The health routes. */
export interface HealthOptions {
  /** Liveness path, or `false` for none. @default '/livez' */
  live?: string | false
  /** Readiness path, or `false` for none. @default '/readyz' */
  ready?: string | false
  /**
   * What a readiness body tells: `'verbose'` — the overall `status` only, and each key's status and
   * cause code when the request asks with `?verbose` (as the Kubernetes API server does); `'always'` —
   * each key's status and cause in every body; `false` — `status` only, always. Fingerprints, messages
   * and variable names are never in a health body. `true` is a deprecated alias of `'always'`.
   * @default 'verbose'
   */
  details?: HealthDetails | true
}

/** What readiness bodies tell: see `HealthOptions.details`. */
export type HealthDetails = 'verbose' | 'always' | false

/** Upstream-401 conversion. */
export interface ProblemOptions {
  /** HTTP status of the problem sent when the upstream rejects our credentials (500–599). @default 502 */
  status?: number
  /** `type` URI of that problem. @default 'https://www.npmjs.com/package/fastify-keyguard#problem-upstream-unauthorized' */
  type?: string
  /**
   * Recognises upstream credential failures keyguard does not know (another SDK's error class): return
   * `true`, or the name of the guarded key it concerns. Called in `onError` for unrecognised errors only.
   * @example recognise: (err) => err instanceof AcmeAuthError && 'acme'
   */
  recognise?: (error: unknown) => boolean | string
  /**
   * Also answer upstream *unavailability* during a request with a problem document, never the
   * upstream's own status and text: a 429 or 503 becomes 503 (with the upstream's `Retry-After`,
   * parsed and capped), a timeout 504, any other 5xx or a failed connection 502. Only answers from the
   * guarded keys' origins (through `keyguard.fetch`/`dispatcher`) and errors of the SDKs keyguard
   * recognises count; the application's own mapping of such an error is respected.
   * @default false
   */
  unavailable?: boolean
}

/**
 * Options of fastify-keyguard.
 *
 * @example
 * await app.register(keyguard, { keys: ['fireworks'], onInvalid: 'degrade' })
 */
export interface FastifyKeyguardOptions {
  /** The keys to guard: provider ids or `KeySpec` objects. At least one. */
  keys: ReadonlyArray<ProviderId | KeySpec>
  /** What a failing key does at boot: `'refuse'` rejects `ready()`/`listen()`; `'degrade'` boots with readiness 503. @default 'refuse' */
  onInvalid?: 'refuse' | 'degrade'
  /**
   * What an `unreachable` verdict (network, timeout, 5xx, CDN page) does: `'warn'` keeps readiness 200
   * (a provider outage must not pull every replica out of rotation), `'degrade'` makes it 503,
   * `'refuse'` also refuses the boot. @default 'warn'
   */
  onUnreachable?: UnreachablePolicy
  /** Where keys are read; read again at every recheck, so a changed value heals without a restart. @default process.env */
  env?: Env
  /** Also read a `.env` file (through env-schema): `true` for `./.env`, or a path. Variables in `env` win. @default false */
  dotenv?: boolean | string
  /** The live probe, or `false` to inspect offline only. @default { timeout: 5000, retries: 2, interval: 600000, jitter: 0.2 } */
  probe?: false | ProbeOptions
  /** The health routes, or `false` for none. @default { live: '/livez', ready: '/readyz', details: 'verbose' } */
  health?: false | HealthOptions
  /** Upstream-401 conversion, or `false` to leave errors alone. @default { status: 502 } */
  problem?: false | ProblemOptions
  /** Called on every state transition of a key (metrics, alerts). Exceptions are logged, never thrown. */
  onChange?: (report: Report, change: Change) => void
}

/** Defaults of every option, in one place. */
export const DEFAULTS = Object.freeze({
  onInvalid: 'refuse' as const,
  onUnreachable: 'warn' as const,
  dotenv: false as const,
  probe: Object.freeze({ timeout: 5_000, retries: 2, interval: 600_000, jitter: 0.2 }),
  health: Object.freeze({ live: '/livez' as const, ready: '/readyz' as const, details: 'verbose' as HealthDetails }),
  problem: Object.freeze({ status: 502, type: PROBLEM_TYPES.upstreamUnauthorized, unavailable: false })
})

/** A key after resolution. */
export interface ResolvedKey {
  name: string
  provider: ProviderSpec
  env: string
  value?: string
  baseUrl: string
  required: boolean
  probe: boolean
}

/** Options after resolution: defaults applied, everything checked. */
export interface ResolvedOptions {
  keys: ResolvedKey[]
  onInvalid: 'refuse' | 'degrade'
  onUnreachable: UnreachablePolicy
  env: Env
  dotenv: string | false
  probe: { timeout: number, retries: number, interval: number, jitter: number, dispatcher?: Dispatcher } | false
  health: { live: string | false, ready: string | false, details: HealthDetails } | false
  problem: { status: number, type: string, unavailable: boolean, recognise?: (error: unknown) => boolean | string } | false
  onChange?: (report: Report, change: Change) => void
}

function bad (message: string): never {
  throw new FST_KEYGUARD_OPTIONS(message)
}

/** Ranges of the numeric options (the README's tables are checked against these). */
export const LIMITS = Object.freeze({
  timeout: Object.freeze({ min: 1, max: 600_000 }),
  retries: Object.freeze({ min: 0, max: 10 }),
  interval: Object.freeze({ min: 0, max: 2 ** 31 - 1 }),
  status: Object.freeze({ min: 500, max: 599 })
})

/**
 * The object's own enumerable properties, on an object without a prototype: options are read from
 * here, so a field inherited from a prototype (an `Object.create(defaults)` spec, a polluted
 * `Object.prototype.baseUrl`) is never taken for one the application set.
 */
export function own<T extends object> (value: T): T {
  return Object.assign(Object.create(null) as T, value)
}

// The start of a credential of any provider or service keyguard knows, and generic secret-ish prefixes.
const CREDENTIAL = new RegExp('^(?:' + [
  ...Object.values(providers as Record<string, ProviderSpec>).flatMap((p) => p.key?.prefixes ?? []),
  ...foreignPrefixes.map((f) => f.prefix),
  'sk-', 'sk_', 'pk_', 'rk_', 'key-', 'api_'
].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|') + ')', 'i')

/**
 * Describes a received value without echoing it: a misplaced key must not end up in an error message.
 * Only short, word-like strings (a mistyped provider id or enum value) are quoted.
 */
function got (value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') {
    const wordLike = /^[A-Za-z][\w.-]{0,23}$/.test(value) && !/\d{3}/.test(value) && !CREDENTIAL.test(value)
    return wordLike ? `"${value}"` : `a string of ${value.length} characters`
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

function integer (value: unknown, path: string, min: number, max: number, unit: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    bad(`option "${path}" must be an integer from ${min} to ${max}${unit}; received ${got(value)}`)
  }
  return value
}

function oneOf<T extends string> (value: unknown, path: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) bad(`option "${path}" must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; received ${got(value)}`)
  return value as T
}

/** Checks a base URL: https (http only for loopback), no credentials, no query or fragment. */
export function checkBaseUrl (value: unknown, path: string): string {
  const expected = `option "${path}" must be an https:// URL (http:// only for loopback hosts) without credentials, query or fragment`
  if (typeof value !== 'string') bad(`${expected}; received ${got(value)}`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return bad(`${expected}; received a string that is not a URL`)
  }
  if (url.username !== '' || url.password !== '') bad(`${expected}; it holds credentials (user:password@), which would leak into logs and be dropped by HTTP clients`)
  if (url.search !== '' || url.hash !== '') bad(`${expected}; it has a query or a fragment`)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    bad(`${expected}; received a ${url.protocol} URL for host ${url.hostname}, which would send the key in clear text`)
  }
  return url.origin + url.pathname.replace(/\/+$/, '')
}

/** A provider's spec, own properties only, nested objects included, without prototypes. */
function ownProvider (spec: ProviderSpec): ProviderSpec {
  const s = own(spec)
  for (const field of ['probe', 'auth', 'key'] as const) {
    if (isObject(s[field])) (s as unknown as Record<string, unknown>)[field] = own(s[field] as object)
  }
  return s
}

function checkProvider (spec: unknown, path: string): ProviderSpec {
  if (!isObject(spec)) return bad(`option "${path}" must be a provider id or a ProviderSpec object; received ${got(spec)}`)
  const s = ownProvider(spec as unknown as ProviderSpec)
  if (typeof s.id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(s.id)) bad(`option "${path}.id" must be lower-case letters, digits and "-"; received ${got(s.id)}`)
  if (typeof s.label !== 'string' || s.label === '') bad(`option "${path}.label" must be a non-empty string; received ${got(s.label)}`)
  if (typeof s.env !== 'string' || !ENV_NAME.test(s.env)) bad(`option "${path}.env" must be an environment variable name; received ${got(s.env)}`)
  checkBaseUrl(s.baseUrl, `${path}.baseUrl`)
  if (!isObject(s.probe) || typeof s.probe.path !== 'string' || !s.probe.path.startsWith('/')) bad(`option "${path}.probe.path" must be a path starting with "/"`)
  if (s.probe.headers !== undefined) s.probe.headers = own(s.probe.headers)
  if (s.probe.method !== undefined) oneOf(s.probe.method, `${path}.probe.method`, ['GET', 'POST'])
  if (s.auth !== undefined && (!isObject(s.auth) || typeof s.auth.header !== 'string' || !/^[A-Za-z0-9-]+$/.test(s.auth.header))) bad(`option "${path}.auth.header" must be a header name`)
  if (s.valid !== undefined && typeof s.valid !== 'function') bad(`option "${path}.valid" must be a function; received ${got(s.valid)}`)
  if (s.classify !== undefined && typeof s.classify !== 'function') bad(`option "${path}.classify" must be a function; received ${got(s.classify)}`)
  if (s.key !== undefined && !isObject(s.key)) bad(`option "${path}.key" must be an object; received ${got(s.key)}`)
  if (s.key?.pattern !== undefined && !(s.key.pattern instanceof RegExp)) bad(`option "${path}.key.pattern" must be a RegExp; received ${got(s.key.pattern)}`)
  if (s.key?.prefixes !== undefined && (!Array.isArray(s.key.prefixes) || !s.key.prefixes.every((p) => typeof p === 'string' && p.length > 0))) bad(`option "${path}.key.prefixes" must be an array of non-empty strings`)
  if (s.key?.minLength !== undefined) integer(s.key.minLength, `${path}.key.minLength`, 1, 65536, '')
  if (s.key?.maxLength !== undefined) integer(s.key.maxLength, `${path}.key.maxLength`, s.key.minLength ?? 1, 65536, '')
  return s
}

const KNOWN = Object.keys(providers).join(', ')
const SHIPPED = providers as Record<string, ProviderSpec>
/** A shipped provider by id, own properties only (`constructor` is no provider). */
const shipped = (id: string): ProviderSpec | undefined => Object.hasOwn(SHIPPED, id) ? SHIPPED[id] : undefined

/** Refuses a key put where a name belongs, without echoing it. */
function notAKey (value: string, path: string, what: string, fix: string): void {
  if (looksLikeKey(value)) bad(`option "${path}" holds a value that looks like a key, not ${what} (it is not shown); ${fix}`)
}

/** A provider without a shared endpoint (Azure OpenAI) needs `baseUrl` on every key. */
function needBaseUrl (provider: ProviderSpec, path: string): void {
  if (typeof provider.requiresBaseUrl !== 'string') return
  const example = `{ provider: '${provider.id}', baseUrl: '…' }`
  bad(`${path} (${provider.label}) needs baseUrl: ${provider.requiresBaseUrl}; e.g. ${example}`)
}

function resolveKey (entry: unknown, index: number): ResolvedKey {
  const path = `keys[${index}]`
  if (typeof entry === 'string') {
    const provider = shipped(entry)
    if (provider === undefined) bad(`${path} is ${got(entry)}, which is not a known provider; known: ${KNOWN}. Use a KeySpec with a ProviderSpec for another provider`)
    needBaseUrl(provider, path)
    return own({ name: entry, provider: ownProvider(provider), env: provider.env, baseUrl: provider.baseUrl, required: true, probe: true })
  }
  if (!isObject(entry)) bad(`${path} must be a provider id or a KeySpec object; received ${got(entry)}`)
  const spec = own(entry as KeySpec)
  for (const field of Object.keys(spec)) {
    if (!['name', 'provider', 'env', 'value', 'baseUrl', 'required', 'probe'].includes(field)) bad(`${path} has an unknown field ${got(field)}; expected name, provider, env, value, baseUrl, required, probe`)
  }
  let provider: ProviderSpec
  const id = spec.provider ?? spec.name
  if (typeof id === 'string') {
    const found = shipped(id)
    if (found === undefined) bad(`option "${path}.provider" is ${got(id)}, which is not a known provider; known: ${KNOWN}. Pass a ProviderSpec object for another provider`)
    provider = ownProvider(found)
  } else if (id === undefined) {
    return bad(`${path} needs a provider: a provider id (${KNOWN}) or a ProviderSpec object`)
  } else {
    provider = checkProvider(id, `${path}.provider`)
  }
  const name = spec.name ?? provider.id
  if (typeof name !== 'string' || !/^[A-Za-z0-9][\w.-]{0,63}$/.test(name)) bad(`option "${path}.name" must be letters, digits, ".", "_" or "-" (at most 64); received ${got(name)}`)
  notAKey(name, `${path}.name`, 'a name', 'give the key a short name such as "fireworks-eu", and pass the key itself as "value" if you must')
  const env = spec.env ?? provider.env
  if (typeof env !== 'string' || !ENV_NAME.test(env)) bad(`option "${path}.env" must be an environment variable name; received ${got(env)}`)
  notAKey(env, `${path}.env`, 'a variable name', `pass the variable's name (e.g. "${provider.env}", not process.env.${provider.env}), or the key itself as "value"`)
  // The type only: a key passed as a number or a Buffer is still a key.
  if (spec.value !== undefined && typeof spec.value !== 'string') bad(`option "${path}.value" must be a string; received ${spec.value === null ? 'null' : `a ${typeof spec.value}`}`)
  if (spec.required !== undefined && typeof spec.required !== 'boolean') bad(`option "${path}.required" must be a boolean; received ${got(spec.required)}`)
  if (spec.probe !== undefined && typeof spec.probe !== 'boolean') bad(`option "${path}.probe" must be a boolean; received ${got(spec.probe)}`)
  if (spec.baseUrl === undefined) needBaseUrl(provider, path)
  const resolved: ResolvedKey = own({
    name,
    provider,
    env,
    baseUrl: spec.baseUrl === undefined ? provider.baseUrl : checkBaseUrl(spec.baseUrl, `${path}.baseUrl`),
    required: spec.required ?? true,
    probe: spec.probe ?? true
  })
  if (spec.value !== undefined) resolved.value = spec.value
  return resolved
}

function resolveProbe (probe: unknown): ResolvedOptions['probe'] {
  if (probe === false) return false
  if (probe === undefined) return own({ ...DEFAULTS.probe })
  if (!isObject(probe)) return bad(`option "probe" must be false or an object; received ${got(probe)}`)
  const p = own(probe as ProbeOptions)
  for (const field of Object.keys(p)) {
    if (!['timeout', 'retries', 'interval', 'jitter', 'dispatcher'].includes(field)) bad(`option "probe" has an unknown field ${got(field)}; expected timeout, retries, interval, jitter, dispatcher`)
  }
  const { timeout, retries, interval } = LIMITS
  const out: Exclude<ResolvedOptions['probe'], false> = own({
    timeout: p.timeout === undefined ? DEFAULTS.probe.timeout : integer(p.timeout, 'probe.timeout', timeout.min, timeout.max, ' (milliseconds)'),
    retries: p.retries === undefined ? DEFAULTS.probe.retries : integer(p.retries, 'probe.retries', retries.min, retries.max, ''),
    interval: p.interval === undefined ? DEFAULTS.probe.interval : integer(p.interval, 'probe.interval', interval.min, interval.max, ' (milliseconds; 0 turns rechecks off)'),
    jitter: DEFAULTS.probe.jitter
  })
  if (p.jitter !== undefined) {
    if (typeof p.jitter !== 'number' || !(p.jitter >= 0 && p.jitter <= 1)) bad(`option "probe.jitter" must be a number from 0 to 1; received ${got(p.jitter)}`)
    out.jitter = p.jitter
  }
  if (p.dispatcher !== undefined) {
    if (!isObject(p.dispatcher) || typeof (p.dispatcher as { dispatch?: unknown }).dispatch !== 'function') bad(`option "probe.dispatcher" must be an undici Dispatcher; received ${got(p.dispatcher)}`)
    out.dispatcher = p.dispatcher
  }
  return out
}

function resolvePath (value: unknown, path: string, fallback: string): string | false {
  if (value === undefined) return fallback
  if (value === false) return false
  if (typeof value !== 'string' || !/^\/[\w\-./~]*$/.test(value)) bad(`option "${path}" must be a path starting with "/" or false; received ${got(value)}`)
  return value
}

function resolveHealth (health: unknown): ResolvedOptions['health'] {
  if (health === false) return false
  if (health === undefined) return own({ ...DEFAULTS.health })
  if (!isObject(health)) return bad(`option "health" must be false or an object; received ${got(health)}`)
  const h = own(health as HealthOptions)
  for (const field of Object.keys(h)) {
    if (!['live', 'ready', 'details'].includes(field)) bad(`option "health" has an unknown field ${got(field)}; expected live, ready, details`)
  }
  const live = resolvePath(h.live, 'health.live', DEFAULTS.health.live)
  const ready = resolvePath(h.ready, 'health.ready', DEFAULTS.health.ready)
  if (live !== false && live === ready) bad('options "health.live" and "health.ready" must be different paths')
  let details = DEFAULTS.health.details
  // true: the old boolean option, kept as an alias of what it meant.
  if (h.details === true) details = 'always'
  else if (h.details !== undefined) {
    if (h.details !== false && h.details !== 'verbose' && h.details !== 'always') bad(`option "health.details" must be 'verbose', 'always' or false; received ${got(h.details)}`)
    details = h.details
  }
  return own({ live, ready, details })
}

function resolveProblem (problem: unknown): ResolvedOptions['problem'] {
  if (problem === false) return false
  if (problem === undefined) return own({ ...DEFAULTS.problem })
  if (!isObject(problem)) return bad(`option "problem" must be false or an object; received ${got(problem)}`)
  const p = own(problem as ProblemOptions)
  for (const field of Object.keys(p)) {
    if (!['status', 'type', 'recognise', 'unavailable'].includes(field)) bad(`option "problem" has an unknown field ${got(field)}; expected status, type, recognise, unavailable`)
  }
  const status = p.status === undefined ? DEFAULTS.problem.status : integer(p.status, 'problem.status', LIMITS.status.min, LIMITS.status.max, ' (a server error: the upstream rejected our credentials, not the client)')
  let type: string = DEFAULTS.problem.type
  if (p.type !== undefined) {
    if (typeof p.type !== 'string' || !/^[a-z][a-z0-9+.-]*:\S+$/i.test(p.type)) bad(`option "problem.type" must be an absolute URI; received ${got(p.type)}`)
    type = p.type
  }
  if (p.recognise !== undefined && typeof p.recognise !== 'function') bad(`option "problem.recognise" must be a function; received ${got(p.recognise)}`)
  if (p.unavailable !== undefined && typeof p.unavailable !== 'boolean') bad(`option "problem.unavailable" must be a boolean; received ${got(p.unavailable)}`)
  const unavailable = p.unavailable ?? DEFAULTS.problem.unavailable
  return own(p.recognise === undefined ? { status, type, unavailable } : { status, type, unavailable, recognise: p.recognise })
}

/** Checks the options, applies the defaults, and throws `FST_KEYGUARD_OPTIONS` naming the first bad option. */
export function resolveOptions (options: unknown, processEnv: Env): ResolvedOptions {
  if (!isObject(options)) bad(`options must be an object; received ${got(options)}`)
  const o = own(options as unknown as FastifyKeyguardOptions)
  for (const field of Object.keys(o)) {
    if (!['keys', 'onInvalid', 'onUnreachable', 'env', 'dotenv', 'probe', 'health', 'problem', 'onChange'].includes(field)) {
      bad(`unknown option ${got(field)}; expected keys, onInvalid, onUnreachable, env, dotenv, probe, health, problem, onChange`)
    }
  }
  if (!Array.isArray(o.keys) || o.keys.length === 0) bad(`option "keys" must be a non-empty array of provider ids or KeySpec objects; received ${got(o.keys)}`)
  // Array.from, not map: a hole in the array is an entry too, and must be refused like one.
  const keys = Array.from(o.keys, resolveKey)
  const names = new Set<string>()
  for (const key of keys) {
    if (names.has(key.name)) bad(`two keys are named "${key.name}"; give each KeySpec its own name`)
    names.add(key.name)
  }
  if (o.env !== undefined) {
    if (!isObject(o.env)) bad(`option "env" must be an object of strings; received ${got(o.env)}`)
    for (const [name, value] of Object.entries(o.env)) {
      // The variable's name and the value's type only, never the value.
      if (value !== undefined && typeof value !== 'string') bad(`option "env" must be an object of strings; env.${name} is ${value === null ? 'null' : `a ${typeof value}`}`)
    }
  }
  let dotenv: string | false = false
  if (o.dotenv === true) dotenv = '.env'
  else if (typeof o.dotenv === 'string' && o.dotenv !== '') dotenv = o.dotenv
  else if (o.dotenv !== undefined && o.dotenv !== false) bad(`option "dotenv" must be a boolean or a file path; received ${got(o.dotenv)}`)
  if (o.onChange !== undefined && typeof o.onChange !== 'function') bad(`option "onChange" must be a function; received ${got(o.onChange)}`)
  const resolved: ResolvedOptions = own({
    keys,
    onInvalid: o.onInvalid === undefined ? DEFAULTS.onInvalid : oneOf(o.onInvalid, 'onInvalid', ['refuse', 'degrade']),
    onUnreachable: o.onUnreachable === undefined ? DEFAULTS.onUnreachable : oneOf(o.onUnreachable, 'onUnreachable', ['refuse', 'degrade', 'warn']),
    env: o.env ?? processEnv,
    dotenv,
    probe: resolveProbe(o.probe),
    health: resolveHealth(o.health),
    problem: resolveProblem(o.problem)
  })
  if (o.onChange !== undefined) resolved.onChange = o.onChange
  return resolved
}
