import type { ProviderSpec } from '../providers/types.js'
import { bad, checkBaseUrl, ENV_NAME, integer, isObject, oneOf, own, received } from './option-checks.js'

/** A provider's spec, own properties only, nested objects included, without prototypes. */
export function ownProvider (spec: ProviderSpec): ProviderSpec {
  const s = own(spec)
  for (const field of ['probe', 'auth', 'key'] as const) {
    if (isObject(s[field])) (s as unknown as Record<string, unknown>)[field] = own(s[field] as object)
  }
  return s
}

const KEY_LENGTH = Object.freeze({ min: 1, max: 65536 })
const method = oneOf(['GET', 'POST'])

/** Checks a `ProviderSpec` the application wrote (one keyguard does not ship). */
export function checkProvider (spec: unknown, path: string): ProviderSpec {
  if (!isObject(spec)) return bad(path, 'a provider id or a ProviderSpec object', received(spec))
  const s = ownProvider(spec as unknown as ProviderSpec)
  if (typeof s.id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(s.id)) {
    bad(`${path}.id`, 'lower-case letters, digits and "-"', received(s.id))
  }
  if (typeof s.label !== 'string' || s.label === '') bad(`${path}.label`, 'a non-empty string', received(s.label))
  if (typeof s.env !== 'string' || !ENV_NAME.test(s.env)) {
    bad(`${path}.env`, 'an environment variable name', received(s.env))
  }
  checkBaseUrl(s.baseUrl, `${path}.baseUrl`)
  if (!isObject(s.probe) || typeof s.probe.path !== 'string' || !s.probe.path.startsWith('/')) {
    bad(`${path}.probe.path`, 'a path starting with "/"')
  }
  if (s.probe.headers !== undefined) s.probe.headers = own(s.probe.headers)
  if (s.probe.method !== undefined) method(s.probe.method, `${path}.probe.method`)
  const header = isObject(s.auth) ? s.auth.header : undefined
  if (s.auth !== undefined && (typeof header !== 'string' || !/^[A-Za-z0-9-]+$/.test(header))) {
    bad(`${path}.auth.header`, 'a header name')
  }
  for (const field of ['valid', 'classify'] as const) {
    if (s[field] !== undefined && typeof s[field] !== 'function') {
      bad(`${path}.${field}`, 'a function', received(s[field]))
    }
  }
  if (s.key !== undefined && !isObject(s.key)) bad(`${path}.key`, 'an object', received(s.key))
  if (s.key?.pattern !== undefined && !(s.key.pattern instanceof RegExp)) {
    bad(`${path}.key.pattern`, 'a RegExp', received(s.key.pattern))
  }
  const prefixes = s.key?.prefixes
  const word = (p: unknown): boolean => typeof p === 'string' && p.length > 0
  if (prefixes !== undefined && (!Array.isArray(prefixes) || !prefixes.every(word))) {
    bad(`${path}.key.prefixes`, 'an array of non-empty strings')
  }
  if (s.key?.minLength !== undefined) integer(KEY_LENGTH)(s.key.minLength, `${path}.key.minLength`)
  if (s.key?.maxLength !== undefined) {
    integer({ min: s.key.minLength ?? KEY_LENGTH.min, max: KEY_LENGTH.max })(s.key.maxLength, `${path}.key.maxLength`)
  }
  return s
}
