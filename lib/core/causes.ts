/** Why a key is in the state it is in. docs/causes-and-reasons.md lists each with its effect. */
export type Cause =
  'missing' | 'malformed' | 'rejected' | 'forbidden' | 'limited' | 'unreachable' | 'valid' | 'unchecked' | 'pending'

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
  /** The `baseUrl` the user configured; absent when the probe went to the provider's own API. */
  baseUrl?: string | undefined
}

/** Value-free notes that accompany a verdict: what was normalised or ignored on the way. */
export type NoteCode =
  'bom' | 'newline' | 'whitespace' | 'shape' | 'file-ignored' | 'empty-used-file' | 'rotation-refused'

/** Wording of a verdict whose reason has none of its own (a custom provider's reason code). */
export const FALLBACK: Readonly<Partial<Record<Cause, string>>> = Object.freeze({
  valid: 'ok', rejected: 'unauthorized', forbidden: 'forbidden', limited: 'rate-limited'
})
