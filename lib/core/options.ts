import type { Dispatcher } from 'undici'
import type { ProviderId } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'
import type { UnreachablePolicy } from './causes.js'
import { bad, ENV_NAME, got, isObject, KNOWN, notAKey, own, received, shipped } from './option-checks.js'
import type { FleetClient, ResolvedFleet } from './option-fleet.js'
import { checkProvider, ownProvider } from './option-provider.js'
import { defaultsOf, KEY_SPEC, OPTIONS, resolveGroup } from './option-table.js'
import type { Change, Report } from './report.js'
import type { Env } from './source.js'

export { checkBaseUrl, ENV_NAME, isOptionsError, KNOWN, own } from './option-checks.js'
export type { OptionsError } from './option-checks.js'
export { LIMITS } from './option-table.js'
/**
 * One key to guard. Every field is optional but `provider` (or a `name` that is a provider id).
 *
 * @example
 * { name: 'fireworks-eu', provider: 'fireworks', env: 'FIREWORKS_EU_KEY',
 *   baseUrl: 'https://gw.example.com/fireworks' }
 */
export interface KeySpec {
  /** The key's name in reports, route config and `key(name)`. @default the provider id */
  name?: string
  /** A shipped provider's id, or a `ProviderSpec` for one keyguard does not ship. @default `name` */
  provider?: ProviderId | ProviderSpec
  /**
   * The variable to read; its `_FILE` twin is read when it is unset.
   * @default the provider's, e.g. `FIREWORKS_API_KEY`
   */
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
  /**
   * Recheck every key this often (ms); `0` turns every timer off (rechecks only by `recheck()` or upstream 401s).
   * @default 600000
   */
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
  /** Keeps the health routes out of the OpenAPI document of `@fastify/swagger` (`schema.hide`). @default false */
  hide?: boolean
}

/**
 * Fleet mode: replicas share each key's verdict through Redis or Valkey, so that the whole fleet probes
 * a key once per interval, and a key rejected at runtime fails on every replica within about a second.
 * Redis holds no key and no fingerprint (docs/fleet.md). When Redis is lost, each replica probes on its own.
 *
 * @example
 * import Redis from 'ioredis'
 * await app.register(keyguard, { keys: ['fireworks'], fleet: { redis: new Redis(process.env.REDIS_URL) } })
 */
export interface FleetOptions {
  /**
   * An ioredis-compatible client the application owns (ioredis, iovalkey, `@fastify/redis`'s
   * `fastify.redis`). keyguard never connects or closes it; it subscribes through one `duplicate()`,
   * which it closes with the app.
   */
  redis: FleetClient
  /**
   * Prefix of every Redis key and channel keyguard uses; replicas share verdicts within one namespace.
   * @default 'keyguard'
   */
  namespace?: string
}

/** What readiness bodies tell: see `HealthOptions.details`. */
export type HealthDetails = 'verbose' | 'always' | false

/** Upstream-401 conversion. */
export interface ProblemOptions {
  /** HTTP status of the problem sent when the upstream rejects our credentials (500–599). @default 502 */
  status?: number
  /**
   * `type` URI of that problem.
   * @default 'https://github.com/fastify-keyguard/fastify-keyguard/blob/HEAD/docs/problems.md#upstream-unauthorized'
   */
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
  /**
   * What a failing key does at boot: `'refuse'` rejects `ready()`/`listen()`; `'degrade'` boots with readiness 503.
   * @default 'refuse'
   */
  onInvalid?: 'refuse' | 'degrade'
  /**
   * What an `unreachable` verdict (network, timeout, 5xx, CDN page) does: `'warn'` keeps readiness 200
   * (a provider outage must not pull every replica out of rotation), `'degrade'` makes it 503,
   * `'refuse'` also refuses the boot. @default 'warn'
   */
  onUnreachable?: UnreachablePolicy
  /**
   * Where keys are read; read again at every recheck, so a changed value heals without a restart.
   * @default process.env
   */
  env?: Env
  /**
   * Also read a `.env` file (through env-schema): `true` for `./.env` when it exists, or a path, which must
   * exist (a missing one throws `FST_KEYGUARD_OPTIONS` at register). Variables in `env` win.
   * @default false
   */
  dotenv?: boolean | string
  /**
   * The live probe, or `false` to inspect offline only.
   * @default { timeout: 5000, retries: 2, interval: 600000, jitter: 0.2 }
   */
  probe?: false | ProbeOptions
  /**
   * The health routes, or `false` for none.
   * @default { live: '/livez', ready: '/readyz', details: 'verbose', hide: false }
   */
  health?: false | HealthOptions
  /**
   * Share verdicts across replicas through Redis/Valkey (one probe per key per interval for the whole
   * fleet), or `false` for each replica on its own.
   * @default false
   */
  fleet?: false | FleetOptions
  /**
   * Upstream-401 conversion, or `false` to leave errors alone.
   * @default { status: 502,
   *   type: 'https://github.com/fastify-keyguard/fastify-keyguard/blob/HEAD/docs/problems.md#upstream-unauthorized',
   *   unavailable: false }
   */
  problem?: false | ProblemOptions
  /** Called on every state transition of a key (metrics, alerts). Exceptions are logged, never thrown. */
  onChange?: (report: Report, change: Change) => void
}

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
  health: { live: string | false, ready: string | false, details: HealthDetails, hide: boolean } | false
  fleet: ResolvedFleet | false
  problem: { status: number, type: string, unavailable: boolean, recognise?: (error: unknown) => boolean | string }
    | false
  onChange?: (report: Report, change: Change) => void
}

/** Defaults of every option, in one place: derived from the options table (`option-table.ts`). */
export const DEFAULTS = defaultsOf(OPTIONS) as Readonly<{
  onInvalid: 'refuse'
  onUnreachable: 'warn'
  dotenv: false
  probe: Readonly<{ timeout: number, retries: number, interval: number, jitter: number }>
  health: Readonly<{ live: string, ready: string, details: HealthDetails, hide: boolean }>
  fleet: false
  problem: Readonly<{ status: number, type: string, unavailable: boolean }>
}>

const known = KNOWN.join(', ')

/** A provider without a shared endpoint (Azure OpenAI) needs `baseUrl` on every key. */
function needBaseUrl (provider: ProviderSpec, path: string): void {
  if (typeof provider.requiresBaseUrl !== 'string') return
  const example = `{ provider: '${provider.id}', baseUrl: '…' }`
  const message = `${path} (${provider.label}) needs baseUrl: ${provider.requiresBaseUrl}; e.g. ${example}`
  bad(`${path}.baseUrl`, provider.requiresBaseUrl, 'it is not set', message)
}

function providerOf (spec: KeySpec, path: string): ProviderSpec {
  const id = spec.provider ?? spec.name
  if (typeof id === 'string') {
    const found = shipped(id)
    if (found === undefined) {
      const message = `option "${path}.provider" is ${got(id)}, which is not a known provider; ` +
        `known: ${known}. Pass a ProviderSpec object for another provider`
      bad(`${path}.provider`, `a provider id (${known}) or a ProviderSpec object`, received(id), message)
    }
    return ownProvider(found)
  }
  if (id === undefined) {
    const expected = `a provider id (${known}) or a ProviderSpec object`
    bad(`${path}.provider`, expected, 'it is not set', `${path} needs a provider: ${expected}`)
  }
  return checkProvider(id, `${path}.provider`)
}

const NAME = /^[A-Za-z0-9][\w.-]{0,63}$/

function resolveKey (entry: unknown, index: number): ResolvedKey {
  const path = `keys[${index}]`
  if (typeof entry === 'string') {
    const provider = shipped(entry)
    if (provider === undefined) {
      const message = `${path} is ${got(entry)}, which is not a known provider; known: ${known}. ` +
        'Use a KeySpec with a ProviderSpec for another provider'
      bad(path, `a provider id (${known}) or a KeySpec object`, received(entry), message)
    }
    needBaseUrl(provider, path)
    const { env, baseUrl } = provider
    return own({ name: entry, provider: ownProvider(provider), env, baseUrl, required: true, probe: true })
  }
  if (!isObject(entry)) {
    const expected = 'a provider id or a KeySpec object'
    bad(path, expected, received(entry), `${path} must be ${expected}; ${received(entry)}`)
  }
  const checked = resolveGroup(entry, KEY_SPEC, path)
  const spec = own(entry as KeySpec)
  const provider = providerOf(spec, path)
  const name = spec.name ?? provider.id
  if (typeof name !== 'string' || !NAME.test(name)) {
    bad(`${path}.name`, 'letters, digits, ".", "_" or "-" (at most 64)', received(name))
  }
  notAKey(name, `${path}.name`, 'a name',
    'give the key a short name such as "fireworks-eu", and pass the key itself as "value" if you must')
  const env = spec.env ?? provider.env
  if (typeof env !== 'string' || !ENV_NAME.test(env)) bad(`${path}.env`, 'an environment variable name', received(env))
  notAKey(env, `${path}.env`, 'a variable name',
    `pass the variable's name (e.g. "${provider.env}", not process.env.${provider.env}), or the key itself as "value"`)
  if (spec.baseUrl === undefined) needBaseUrl(provider, path)
  return own({ name, provider, env, baseUrl: provider.baseUrl, ...checked }) as ResolvedKey
}

const resolveKeys = (value: unknown, option: string): ResolvedKey[] => {
  if (!Array.isArray(value) || value.length === 0) {
    bad(option, 'a non-empty array of provider ids or KeySpec objects', received(value))
  }
  // Array.from, not map: a hole in the array is an entry too, and must be refused like one.
  const keys = Array.from(value, resolveKey)
  const names = new Set<string>()
  for (const key of keys) {
    if (names.has(key.name)) {
      const message = `two keys are named "${key.name}"; give each KeySpec its own name`
      bad(option, 'keys with distinct names', undefined, message)
    }
    names.add(key.name)
  }
  return keys
}

/** Checks the options, applies the defaults, and throws `FST_KEYGUARD_OPTIONS` naming the first bad option. */
export function resolveOptions (options: unknown, processEnv: Env): ResolvedOptions {
  if (!isObject(options)) {
    bad('options', 'an object', received(options), `options must be an object; ${received(options)}`)
  }
  const resolved = resolveGroup(options, OPTIONS, '', { keys: resolveKeys }) as unknown as ResolvedOptions
  resolved.env ??= processEnv
  return resolved
}
