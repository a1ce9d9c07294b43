import type { CheckResult } from './report.js'
import { CAUSES } from './causes.js'

/**
 * The part of a pino-style logger the core uses. Fastify's `app.log` fits it; the core never imports
 * Fastify (the CLI hands it a silent one).
 */
export interface Logger {
  error: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({ error: () => {}, warn: () => {}, info: () => {} })

/**
 * Calls the application's code. Whatever it does — throw, return a Promise that rejects (an `async`
 * alert hook whose webhook is down), a thenable — the failure goes to `failed` once, is never thrown
 * and is never an unhandled rejection.
 */
export function callSafely (fn: () => unknown, failed: (err: unknown) => void): void {
  try {
    const returned = fn()
    if (returned !== null && (typeof returned === 'object' || typeof returned === 'function')) {
      const then = (returned as { then?: unknown }).then
      if (typeof then === 'function') Promise.resolve(returned).then(undefined, failed)
    }
  } catch (err) {
    failed(err)
  }
}

/** What the application's code threw, as an Error to log (`{ err }`): a non-Error value is named, never shown. */
export function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(`a non-Error value was thrown (${err === null ? 'null' : typeof err})`)
}

/**
 * The log line of a key's change, at the level of its cause (`warn` for a passing key with notes);
 * `undefined` when nothing an operator acts on changed (cause, status and fingerprint are the same).
 */
export function transition (
  previous: Pick<CheckResult, 'status' | 'cause' | 'fingerprint'>, result: CheckResult
): { level: keyof Logger, keyguard: object, message: string } | undefined {
  const { name, provider, env, status, cause, reason, fingerprint, httpStatus, latencyMs, notes, message, fix } = result
  if (previous.cause === cause && previous.status === status && previous.fingerprint === fingerprint) return undefined
  let level = CAUSES[cause].level
  if (level === 'info' && notes !== undefined) level = 'warn'
  const from = previous.cause
  const keyguard = { key: name, provider, env, status, cause, reason, fingerprint, httpStatus, latencyMs, from, notes }
  const passing = cause === 'valid' || cause === 'unchecked'
  // A failing key's message carries its notes already; a passing key's are told here, in the line people read.
  const noted = passing && notes !== undefined ? ` Note: ${notes.join(' ')}` : ''
  const fixed = passing ? '' : ` Fix: ${fix}`
  return { level, keyguard, message: `fastify-keyguard: ${message}${noted}${fixed}` }
}
