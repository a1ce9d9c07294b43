import { requireCjs } from './cjs.js'
import type { CheckResult } from './report.js'

// Named members, never the default: a default import of this CommonJS package breaks its types under
// `moduleResolution: bundler`.
const { createError, createRFC9457Error } = requireCjs('@fastify/error') as typeof import('@fastify/error')

/**
 * Where the problem documents are explained: each `type` URI below ends in an explicit anchor of that page
 * (`<a id="…">`), which never changes, so no heading is part of the wire contract.
 */
const PROBLEMS_DOC = 'https://github.com/fastify-keyguard/fastify-keyguard/blob/HEAD/docs/problems.md'

/** Problem `type` URIs: stable anchors in `docs/problems.md`. */
export const PROBLEM_TYPES = Object.freeze({
  upstreamUnauthorized: `${PROBLEMS_DOC}#upstream-unauthorized`,
  keyFailing: `${PROBLEMS_DOC}#key-failing`,
  upstreamUnavailable: `${PROBLEMS_DOC}#upstream-unavailable`
})

/** Invalid plugin options; thrown at register. A `TypeError`. */
export const FST_KEYGUARD_OPTIONS = createError<'FST_KEYGUARD_OPTIONS', 500, [string]>(
  'FST_KEYGUARD_OPTIONS', 'Invalid fastify-keyguard options: %s', 500, TypeError
)

/**
 * The app runs a Fastify other than 5.x: Fastify's own error, with its code and words, as fastify-plugin's
 * `fastify: '5.x'` would have made it (see `FASTIFY_MAJOR`).
 */
type VersionMismatch = [name: string, expected: string, installed: string]
export const FST_ERR_PLUGIN_VERSION_MISMATCH = createError<'FST_ERR_PLUGIN_VERSION_MISMATCH', 500, VersionMismatch>(
  'FST_ERR_PLUGIN_VERSION_MISMATCH', "fastify-plugin: %s - expected '%s' fastify version, '%s' is installed", 500
)

/**
 * `ready()`/`listen()` rejected: a key failed its checks under `onInvalid: 'refuse'`. `.checks` holds the
 * failing results.
 */
export const FST_KEYGUARD_BOOT_REFUSED = createError<'FST_KEYGUARD_BOOT_REFUSED', 500, [string]>(
  'FST_KEYGUARD_BOOT_REFUSED', 'fastify-keyguard refused to boot: %s', 500
)

/** `keyguard.key(name)` on a key that cannot be used (missing, malformed, unknown). */
export const FST_KEYGUARD_KEY_UNAVAILABLE = createError<'FST_KEYGUARD_KEY_UNAVAILABLE', 500, [string]>(
  'FST_KEYGUARD_KEY_UNAVAILABLE', '%s', 500
)

/** The problem sent when an upstream rejected the server's own credentials (502 by default). */
export const FST_KEYGUARD_UPSTREAM_UNAUTHORIZED = createRFC9457Error<
  'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', 502, [string]
>(
  'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED',
  'The upstream service rejected this server\'s credentials for "%s". This is a server-side problem; ' +
    'the request may succeed once the operators fix the key.',
  502,
  { type: PROBLEM_TYPES.upstreamUnauthorized, title: 'Upstream credentials rejected' }
)

/** With `problem.unavailable`: the problem sent when the upstream could not serve (429, 408, 5xx, no answer). */
export const FST_KEYGUARD_UPSTREAM_UNAVAILABLE = createRFC9457Error<
  'FST_KEYGUARD_UPSTREAM_UNAVAILABLE', 502, [string]
>(
  'FST_KEYGUARD_UPSTREAM_UNAVAILABLE',
  'The upstream service behind this endpoint ("%s") is unavailable or overloaded. ' +
    'It is not a problem with your request; retry later.',
  502,
  { type: PROBLEM_TYPES.upstreamUnavailable, title: 'Upstream unavailable' }
)

/** The problem sent by a gated route while its key is failing (503 with `Retry-After`). */
export const FST_KEYGUARD_KEY_FAILING = createRFC9457Error<'FST_KEYGUARD_KEY_FAILING', 503, [string]>(
  'FST_KEYGUARD_KEY_FAILING',
  'This endpoint depends on an upstream service whose credentials ("%s") are not working. ' +
    'It is a server-side problem; retry after the time in Retry-After.',
  503,
  { type: PROBLEM_TYPES.keyFailing, title: 'Upstream credentials unavailable' }
)

/** The error `ready()` rejects with when keyguard refuses to boot. */
export type BootRefusedError = InstanceType<typeof FST_KEYGUARD_BOOT_REFUSED> & { checks: CheckResult[] }

/**
 * Builds the boot refusal: one line per failing key with provider, variable, cause, fingerprint and fix.
 * The fingerprint is added only when the message does not name it already, so it is told once.
 */
export function bootRefused (checks: CheckResult[]): BootRefusedError {
  const lines = checks.map((check) => {
    const { fingerprint: fp, message } = check
    const fingerprint = fp === undefined || message.includes(fp) ? '' : ` (${fp})`
    return `\n  - [${check.name}] ${check.cause}${fingerprint}: ${message} Fix: ${check.fix}`
  })
  const count = `${checks.length} key${checks.length === 1 ? '' : 's'}`
  const err = new FST_KEYGUARD_BOOT_REFUSED(`${count} failed${lines.join('')}`) as BootRefusedError
  // Not enumerable: a logger's error serializer or Node's dump of an uncaught error would print every entry,
  // telling each key's story again after the message has told it.
  Object.defineProperty(err, 'checks', { value: checks, enumerable: false, writable: true, configurable: true })
  return err
}
