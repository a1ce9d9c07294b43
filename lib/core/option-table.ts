import type { Dispatcher } from 'undici'
import { missingEnvFile } from './dotenv.js'
import { PROBLEM_TYPES } from './errors.js'
import { checkFleet } from './option-fleet.js'
import { bad, bool, checkBaseUrl, fn, got, integer, isObject, oneOf, own, received } from './option-checks.js'
import type { Range } from './option-checks.js'

/**
 * The one table of options. Validation, unknown-field detection, `DEFAULTS`, the `@default` of the
 * option types' JSDoc and the README's Options tables all come from (or are checked against) it.
 */

/** Checks a value the application gave and returns it resolved; throws `FST_KEYGUARD_OPTIONS`. */
export type Check = (value: unknown, option: string) => unknown

/** An option's default: a value (it is in `DEFAULTS`), code or words when it depends on something else. */
export type Default = { value: unknown } | { code: string } | { text: string }

export interface Field {
  /** The type, as the README's table shows it (Markdown). */
  type: string
  /** None: the option is absent unless given (or, with `required`, must be given). */
  default?: Default
  required?: true
  /** None: the resolver checks it, with what it knows of the key (its provider). */
  check?: Check
}

export interface Group {
  /** The option type's name in `options.ts` and the README's heading for it. */
  type: string
  fields: Readonly<Record<string, Field>>
  /** Cross-field rules, after each field is checked. */
  finish?: (resolved: Record<string, unknown>, path: string) => void
}

const span = (r: Range): string => `${r.min}–${String(r.max).replace(/\B(?=(\d{3})+$)/g, ' ')}`

/** Ranges of the numeric options. */
export const LIMITS = Object.freeze({
  timeout: Object.freeze({ min: 1, max: 600_000 }),
  retries: Object.freeze({ min: 0, max: 10 }),
  interval: Object.freeze({ min: 0, max: 2 ** 31 - 1 }),
  status: Object.freeze({ min: 500, max: 599 })
})

const path = (value: unknown, option: string): string | false => {
  if (value !== false && (typeof value !== 'string' || !/^\/[\w\-./~]*$/.test(value))) {
    bad(option, 'a path starting with "/" or false', received(value))
  }
  return value
}

export const PROBE: Group = Object.freeze<Group>({
  type: 'ProbeOptions',
  fields: {
    timeout: {
      type: `\`number\` (ms, ${span(LIMITS.timeout)})`,
      default: { value: 5_000 },
      check: integer(LIMITS.timeout, ' (milliseconds)')
    },
    retries: { type: `\`number\` (${span(LIMITS.retries)})`, default: { value: 2 }, check: integer(LIMITS.retries) },
    interval: {
      type: '`number` (ms)',
      default: { value: 600_000 },
      check: integer(LIMITS.interval, ' (milliseconds; 0 turns rechecks off)')
    },
    jitter: {
      type: '`number` (0–1)',
      default: { value: 0.2 },
      check: (value, option) => {
        if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
          bad(option, 'a number from 0 to 1', received(value))
        }
        return value
      }
    },
    dispatcher: {
      type: 'undici `Dispatcher`',
      check: (value, option) => {
        if (!isObject(value) || typeof value.dispatch !== 'function') {
          bad(option, 'an undici Dispatcher', received(value))
        }
        return value as unknown as Dispatcher
      }
    }
  }
})

export const HEALTH: Group = Object.freeze<Group>({
  type: 'HealthOptions',
  fields: {
    live: { type: '`string \\| false`', default: { value: '/livez' }, check: path },
    ready: { type: '`string \\| false`', default: { value: '/readyz' }, check: path },
    details: {
      type: "`'verbose' \\| 'always' \\| false`",
      default: { value: 'verbose' },
      check: (value, option) => {
        // true: the old boolean option, kept as an alias of what it meant.
        if (value === true) return 'always'
        if (value !== false && value !== 'verbose' && value !== 'always') {
          bad(option, "'verbose', 'always' or false", received(value))
        }
        return value
      }
    },
    hide: { type: '`boolean`', default: { value: false }, check: bool }
  },
  finish: (h) => {
    if (h.live !== false && h.live === h.ready) {
      const message = 'options "health.live" and "health.ready" must be different paths'
      bad('health.ready', 'a path other than health.live', undefined, message)
    }
  }
})

export const PROBLEM: Group = Object.freeze<Group>({
  type: 'ProblemOptions',
  fields: {
    status: {
      type: `\`number\` (${span(LIMITS.status)})`,
      default: { value: 502 },
      check: integer(LIMITS.status, ' (a server error: the upstream rejected our credentials, not the client)')
    },
    type: {
      type: '`string` (absolute URI)',
      default: { value: PROBLEM_TYPES.upstreamUnauthorized },
      check: (value, option) => {
        if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\S+$/i.test(value)) {
          bad(option, 'an absolute URI', received(value))
        }
        return value
      }
    },
    recognise: { type: '`(error: unknown) => boolean \\| string`', check: fn },
    unavailable: { type: '`boolean`', default: { value: false }, check: bool }
  }
})

export const KEY_SPEC: Group = Object.freeze<Group>({
  type: 'KeySpec',
  fields: {
    name: { type: '`string`', default: { text: 'the provider id' } },
    provider: { type: '`ProviderId \\| ProviderSpec`', default: { text: '`name`' } },
    env: { type: '`string`', default: { text: "the provider's, e.g. `FIREWORKS_API_KEY`" } },
    value: {
      type: '`string`',
      // The type only: a key passed as a number or a Buffer is still a key.
      check: (value, option) => typeof value === 'string'
        ? value
        : bad(option, 'a string', `received ${value === null ? 'null' : `a ${typeof value}`}`)
    },
    baseUrl: {
      type: '`string`',
      default: { text: "the provider's, e.g. `https://api.fireworks.ai`" },
      check: checkBaseUrl
    },
    required: { type: '`boolean`', default: { value: true }, check: bool },
    probe: { type: '`boolean`', default: { value: true }, check: bool }
  }
})

/** Resolves a nested options object: `false` turns the feature off, an object is checked field by field. */
const nested = (group: Group): Check => (value, option) => {
  if (value === false) return false
  if (!isObject(value)) return bad(option, 'false or an object', received(value))
  return resolveGroup(value, group, option)
}

export const OPTIONS: Group = Object.freeze<Group>({
  type: 'FastifyKeyguardOptions',
  fields: {
    keys: { type: '`Array<ProviderId \\| KeySpec>`', required: true },
    onInvalid: { type: "`'refuse' \\| 'degrade'`", default: { value: 'refuse' }, check: oneOf(['refuse', 'degrade']) },
    onUnreachable: {
      type: "`'refuse' \\| 'degrade' \\| 'warn'`",
      default: { value: 'warn' },
      check: oneOf(['refuse', 'degrade', 'warn'])
    },
    env: {
      type: '`Record<string, string \\| undefined>`',
      default: { code: 'process.env' },
      check: (value, option) => {
        if (!isObject(value)) bad(option, 'an object of strings', received(value))
        for (const [name, v] of Object.entries(value)) {
          // The variable's name and the value's type only, never the value.
          if (v !== undefined && typeof v !== 'string') {
            bad(option, 'an object of strings', `env.${name} is ${v === null ? 'null' : `a ${typeof v}`}`)
          }
        }
        return value
      }
    },
    dotenv: {
      type: '`boolean \\| string`',
      default: { value: false },
      check: (value, option) => {
        if (value === true) return '.env'
        if (value !== false && (typeof value !== 'string' || value === '')) {
          bad(option, 'a boolean or a file path', received(value))
        }
        const missing = typeof value === 'string' ? missingEnvFile(value) : undefined
        if (missing !== undefined) {
          const fix = 'Fix: correct the path, create the file, or use dotenv: true to read ./.env only when it exists'
          bad(option, 'the path of an existing .env file', missing, `option "${option}": ${missing}. ${fix}`)
        }
        return value
      }
    },
    probe: { type: '`false \\| ProbeOptions`', default: { value: defaultsOf(PROBE) }, check: nested(PROBE) },
    health: { type: '`false \\| HealthOptions`', default: { value: defaultsOf(HEALTH) }, check: nested(HEALTH) },
    fleet: { type: '`false \\| FleetOptions`', default: { value: false }, check: checkFleet },
    problem: { type: '`false \\| ProblemOptions`', default: { value: defaultsOf(PROBLEM) }, check: nested(PROBLEM) },
    onChange: { type: '`(report: Report, change: Change) => void`', check: fn }
  }
})

/** The option groups, in the README's order. */
export const GROUPS: readonly Group[] = Object.freeze([OPTIONS, KEY_SPEC, PROBE, HEALTH, PROBLEM])

/** The frozen object of a group's value defaults. */
export function defaultsOf (group: Group): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(group.fields)) {
    if (field.default !== undefined && 'value' in field.default) out[name] = field.default.value
  }
  return Object.freeze(out)
}

/**
 * Checks `given` against a group: an unknown field is refused (its name described, never echoed), each
 * field the application set is checked, a field it left out takes its value default. `checks` supply
 * the checks the table leaves to the resolver.
 */
export function resolveGroup (
  given: Record<string, unknown>, group: Group, path: string, checks: Readonly<Record<string, Check>> = {}
): Record<string, unknown> {
  const values = own(given)
  const names = Object.keys(group.fields)
  for (const field of Object.keys(values)) {
    if (Object.hasOwn(group.fields, field)) continue
    const expected = names.join(', ')
    const found = `unknown ${path === '' ? 'option' : 'field'} ${got(field)}`
    if (path === '') bad('options', `one of ${expected}`, found, `${found}; expected ${expected}`)
    const owner = path.startsWith('keys[') ? path : `option "${path}"`
    bad(path, `an object of ${expected}`, found, `${owner} has an ${found}; expected ${expected}`)
  }
  const out: Record<string, unknown> = own({})
  for (const [name, field] of Object.entries(group.fields)) {
    const value = values[name]
    const check = field.check ?? checks[name]
    if (check !== undefined && (value !== undefined || field.required === true)) {
      out[name] = check(value, path === '' ? name : `${path}.${name}`)
    } else if (value === undefined && field.default !== undefined && 'value' in field.default) {
      const fallback = field.default.value
      out[name] = isObject(fallback) ? own({ ...fallback }) : fallback
    }
  }
  group.finish?.(out, path)
  return out
}

/** An option's default as a literal: `'refuse'`, `5000`, `{ timeout: 5000, … }`. */
export function literal (value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (isObject(value)) return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${literal(v)}`).join(', ')} }`
  return String(value)
}

/** The `@default` of a field in the option types' JSDoc, or undefined for none. */
export function jsdocDefault (field: Field): string | undefined {
  if (field.default === undefined) return undefined
  if ('value' in field.default) return literal(field.default.value)
  return 'code' in field.default ? field.default.code : field.default.text
}

/** The default cell of a field in the README's Options tables. */
export function readmeDefault (field: Field): string {
  if (field.required === true) return 'required, at least one'
  if (field.default === undefined) return '—'
  if ('value' in field.default) return `\`${literal(field.default.value)}\``
  return 'code' in field.default ? `\`${field.default.code}\`` : field.default.text
}
