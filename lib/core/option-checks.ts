import { FST_KEYGUARD_OPTIONS } from './errors.js'
import { foreignPrefixes, keyPrefixes, providers } from '../providers/index.js'
import type { ProviderId } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'
import { looksLikeKey } from './redact.js'

/**
 * An invalid option: `option` is its path (`probe.timeout`, `keys[0].baseUrl`), `expected` what it
 * must be, `found` what it was instead, described without its value. Callers (the CLI) read these
 * fields, never the message.
 */
export type OptionsError = InstanceType<typeof FST_KEYGUARD_OPTIONS> & {
  option: string
  expected: string
  found?: string
}

/** Throws `FST_KEYGUARD_OPTIONS` for `option`; the message defaults to "option … must be …; …". */
export function bad (option: string, expected: string, found?: string, message?: string): never {
  const text = message ?? `option "${option}" must be ${expected}${found === undefined ? '' : `; ${found}`}`
  const err = new FST_KEYGUARD_OPTIONS(text) as OptionsError
  err.option = option
  err.expected = expected
  if (found !== undefined) err.found = found
  throw err
}

/** Whether `err` is an option error (by its code and fields, not by its message). */
export function isOptionsError (err: unknown): err is OptionsError {
  return err instanceof Error && (err as { code?: unknown }).code === 'FST_KEYGUARD_OPTIONS' &&
    typeof (err as { option?: unknown }).option === 'string'
}

/** An environment variable's name: the options, `_FILE` twins and the CLI's `--env` share it. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The shipped providers' ids, in the catalogue's order. */
export const KNOWN: readonly ProviderId[] = Object.freeze(Object.keys(providers) as ProviderId[])

const SHIPPED = providers as Record<string, ProviderSpec>
/** A shipped provider by id, own properties only (`constructor` is no provider). */
export const shipped = (id: string): ProviderSpec | undefined => Object.hasOwn(SHIPPED, id) ? SHIPPED[id] : undefined

/**
 * The object's own enumerable properties, on an object without a prototype: options are read from
 * here, so a field inherited from a prototype (an `Object.create(defaults)` spec, a polluted
 * `Object.prototype.baseUrl`) is never taken for one the application set.
 */
export function own<T extends object> (value: T): T {
  return Object.assign(Object.create(null) as T, value)
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

// The start of a credential of any provider or service keyguard knows, and generic secret-ish prefixes.
const CREDENTIAL = new RegExp('^(?:' + [
  ...keyPrefixes,
  ...foreignPrefixes.map((f) => f.prefix),
  'sk-', 'sk_', 'pk_', 'rk_', 'key-', 'api_'
].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|') + ')', 'i')

/**
 * Describes a received value without echoing it: a misplaced key must not end up in an error message.
 * Only short, word-like strings (a mistyped provider id or enum value) are quoted.
 */
export function got (value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') {
    const wordLike = /^[A-Za-z][\w.-]{0,23}$/.test(value) && !/\d{3}/.test(value) && !CREDENTIAL.test(value)
    return wordLike ? `"${value}"` : `a string of ${value.length} characters`
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** `received …`, the usual end of a message. */
export const received = (value: unknown): string => `received ${got(value)}`

/** A numeric range, inclusive. */
export interface Range { readonly min: number, readonly max: number }

/** A check of an integer within `range`; `unit` follows the range in the message. */
export const integer = (range: Range, unit = '') => (value: unknown, option: string): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    bad(option, `an integer from ${range.min} to ${range.max}${unit}`, received(value))
  }
  return value
}

/** A check of one of `allowed`. */
export const oneOf = <T extends string>(allowed: readonly T[]) => (value: unknown, option: string): T => {
  if (!allowed.includes(value as T)) bad(option, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, received(value))
  return value as T
}

/** A check of a function (a callback option). */
export const fn = (value: unknown, option: string): (...args: never[]) => unknown => {
  if (typeof value !== 'function') bad(option, 'a function', received(value))
  return value as (...args: never[]) => unknown
}

/** A check of a boolean. */
export const bool = (value: unknown, option: string): boolean => {
  if (typeof value !== 'boolean') bad(option, 'a boolean', received(value))
  return value
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

/** Checks a base URL: https (http only for loopback), no credentials, no query or fragment. */
export function checkBaseUrl (value: unknown, option: string): string {
  const expected = 'an https:// URL (http:// only for loopback hosts) without credentials, query or fragment'
  if (typeof value !== 'string') bad(option, expected, received(value))
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return bad(option, expected, 'received a string that is not a URL')
  }
  if (url.username !== '' || url.password !== '') {
    const why = 'which would leak into logs and be dropped by HTTP clients'
    bad(option, expected, `it holds credentials (user:password@), ${why}`)
  }
  if (url.search !== '' || url.hash !== '') bad(option, expected, 'it has a query or a fragment')
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    const found = `received a ${url.protocol} URL for host ${url.hostname}`
    bad(option, expected, `${found}, which would send the key in clear text`)
  }
  return url.origin + url.pathname.replace(/\/+$/, '')
}

/** Refuses a key put where a name belongs, without echoing it. */
export function notAKey (value: string, option: string, what: string, fix: string): void {
  if (looksLikeKey(value)) {
    const message = `option "${option}" holds a value that looks like a key, not ${what} (it is not shown); ${fix}`
    bad(option, what, 'it looks like a key', message)
  }
}
