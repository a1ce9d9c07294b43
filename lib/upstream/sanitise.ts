import { echoes, requestIdOf } from '../core/redact.js'
import type { SecretForms } from '../core/redact.js'

/** Members SDK errors keep the upstream's request id in. */
const ID_MEMBERS: readonly PropertyKey[] = Object.freeze(['requestID', 'requestId', 'request_id'])

/** A name or code fit to log: a short token, not text. */
const TOKEN = /^[\w.$:-]{1,64}$/

/** What a member that cannot be deleted is set to. */
const WITHHELD = '[withheld by fastify-keyguard]'

/**
 * The members of an upstream error that are kept: its name and code (short tokens that share nothing
 * with a secret), its status, the upstream request id when it is clean, and symbol markers (Vercel's
 * `isInstance` reads them; loggers never print them). Everything else may hold the upstream's body,
 * headers, message or our request, today (`apiMessage`, `details`, `httpResponse`, …) or in the next
 * version of an SDK, so it goes.
 */
function safe (member: PropertyKey, value: unknown, secrets: readonly string[], forms?: SecretForms): boolean {
  if (typeof member === 'symbol') return typeof value === 'boolean'
  if (member === 'status' || member === 'statusCode') return typeof value === 'number'
  if (member === 'name' || member === 'code') {
    if (typeof value === 'number') return true
    return typeof value === 'string' && TOKEN.test(value) && !echoes(value, secrets, forms)
  }
  // The upstream's request id is worth logging, unless it echoes our key (a gateway copying Authorization).
  return ID_MEMBERS.includes(member) && requestIdOf(value, secrets, forms) !== undefined
}

/**
 * Strips an upstream error, by allow-list, of everything that came from the upstream (its message
 * echoes a masked key, its body and headers hold more) before any error handler logs or serialises it.
 */
export function sanitise (error: object, key: string | undefined, status: number, redaction: {
  /** The app's secrets, and the cache of their encoded forms (the app's own, so they are not recomputed). */
  secrets?: readonly string[]
  forms?: SecretForms
  /** The upstream could not serve (rather than rejecting the key): the message says so. */
  fault?: boolean
} = {}): void {
  const { secrets = [], forms, fault = false } = redaction
  const err = error as Record<PropertyKey, unknown>
  for (const member of Reflect.ownKeys(err)) {
    if (member === 'message' || member === 'stack') continue
    let value: unknown
    try {
      value = err[member]
    } catch {}
    if (safe(member, value, secrets, forms)) continue
    try {
      delete err[member]
    } catch {
      try {
        err[member] = WITHHELD
      } catch {}
    }
  }
  const which = key === undefined ? 'a guarded key' : `key "${key}"`
  const message = fault
    ? `The upstream of ${which} could not serve (${status === 0 ? 'no answer' : `HTTP ${status}`}); ` +
      'upstream text withheld by fastify-keyguard'
    : `The upstream rejected the credentials of ${which} (HTTP ${status}); upstream text withheld by fastify-keyguard`
  try {
    err.message = message
    // The stack's first line was written from the original message. It is replaced without being read:
    // reading a stack makes V8 format it, the largest cost of this path when nothing logs it.
    err.stack = `${String(err.name ?? 'Error')}: ${message}\n` +
      '    at <the upstream client\'s frames are withheld by fastify-keyguard>'
  } catch {}
}
