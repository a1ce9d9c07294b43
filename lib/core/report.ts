import type { Cause, Status } from './causes.js'

/** The state of one key. Holds no secret: the key appears only as its `fingerprint`. */
export interface CheckResult {
  /** Key name (`keys[].name`, by default the provider id). */
  name: string
  /** Provider id. */
  provider: string
  /** The variable the key is read from. */
  env: string
  /** `pass`, `warn` or `fail` (readiness answers 503 while any key is `fail`). */
  status: Status
  /**
   * Why: `missing`, `malformed`, `rejected`, `forbidden`, `limited`, `unreachable`, `valid`, `unchecked`,
   * `pending`.
   */
  cause: Cause
  /** A stable code refining the cause, e.g. `zero-width`, `timeout`, `quota`. */
  reason: string
  /** What happened, naming the provider and the variable, never the value. */
  message: string
  /** What the operator should do. */
  fix: string
  /** Where the key was read: `env`, `file`, `value`, or `none`. */
  source: 'value' | 'env' | 'file' | 'none'
  /** A non-reversible tag of the key in use (`fw_…a1b2` or `sha256:1a2b3c4d`), when there is one. */
  fingerprint?: string
  /** ISO 8601 time of the check. */
  checkedAt: string
  /** Duration of the probe's last attempt. */
  latencyMs?: number
  /** Status of the provider's answer to the probe. */
  httpStatus?: number
  /** The provider's request id of the probe, for its support. */
  requestId?: string
  /** Things that were normalised or ignored on the way (a trailing newline removed, …). */
  notes?: string[]
}

/** All keys at once: `fail` if any key fails, else `warn` if any warns, else `pass`. */
export interface Report {
  status: Status
  checks: Record<string, CheckResult>
}

/** One state transition of one key, as passed to `onChange`. */
export interface Change {
  /** Key name. */
  name: string
  /** The result before the transition (`pending` at boot). */
  previous: CheckResult
  /** The result now. */
  current: CheckResult
}

/** Aggregates statuses: one `fail` fails all; one `warn` warns. */
export function aggregate (statuses: Iterable<Status>): Status {
  let status: Status = 'pass'
  for (const s of statuses) {
    if (s === 'fail') return 'fail'
    if (s === 'warn') status = 'warn'
  }
  return status
}
