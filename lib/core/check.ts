import { inspect, KEY_LENGTH } from './inspect.js'
import type { ResolvedKey, ResolvedOptions } from './options.js'
import { foreignPrefixes, providers } from '../providers/index.js'
import type { ProviderId } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'
import type { Dispatcher } from 'undici'
import { envLoader } from './dotenv.js'
import type { Fleet } from './fleet.js'
import type { Logger } from './log.js'
import { probe, probeUrl } from './probe.js'
import type { ProbeSettings } from './probe.js'
import { fingerprint } from './redact.js'
import type { SecretForms } from './redact.js'
import type { CheckResult } from './report.js'
import { sleep } from './schedule.js'
import { MAX_KEY_FILE, providerWords, readSource } from './source.js'
import type { Env, Reading } from './source.js'
import { ProbeTransport } from './transport.js'
import type { Telemetry } from './telemetry.js'
import { CAUSES, statusOf } from './causes.js'
import { describe, describeNotes } from './wording.js'
import type { Facts, NoteCode, Subject, Verdict } from './causes.js'

/** Re-reads of a changed, now-broken source before it counts (a half-written file during rotation). */
export const SETTLE = Object.freeze({ tries: 3, wait: 250 })
/** Consecutive `unreachable` verdicts before a passing key fails under `onUnreachable: 'degrade' | 'refuse'`. */
export const STRIKES = 2

/**
 * Longest value inspected, in UTF-16 units: beyond it a value is refused as too long without being
 * split or scanned (a 50 MB `value` would block the event loop for seconds). Twice the provider's
 * longest key, so a key of astral characters is still judged by inspection, and never below the
 * `_FILE` size cap.
 */
export const inspectable = (maxLength: number = KEY_LENGTH.max): number => Math.max(MAX_KEY_FILE, 2 * maxLength)

const ALL_PROVIDERS: readonly ProviderSpec[] = Object.freeze(Object.values(providers))

/** The outcome of one check: the verdict, where the key came from, and the key to use from now on. */
export interface Next {
  verdict: Verdict
  reading: Reading
  notes: NoteCode[]
  secret: string | undefined
}

/** A check whose verdict is held back (the first `unreachable` of a working key). */
export const HOLD = Symbol('hold')

/** What every check of one guard shares. */
export interface Context {
  options: Pick<ResolvedOptions, 'onUnreachable' | 'probe'>
  /** The environment, read again for every check. */
  env: () => Promise<Env>
  /** The dispatcher of the next probe (`undefined`: node:http(s)). */
  dispatcher: () => Dispatcher | undefined
  /** How a probe reaches its origin when there is no dispatcher: a shared HTTP/2 session or keep-alive agent. */
  route?: ProbeSettings['route']
  /** Runs a function when `signal` aborts, through one listener for every probe of the app. */
  onAbort?: ProbeSettings['onAbort']
  /** Aborted when the server closes. */
  signal: AbortSignal
  random: () => number
  forms: SecretForms
  /** Waits between settle re-reads. */
  pause: (ms: number) => Promise<void>
  /** Told what a custom provider's `classify` or `valid` threw or returned wrongly. */
  onFault: (err: Error, spec: ResolvedKey) => void
  /** Where an error thrown while checking (env-schema's, say) is logged; the verdict is then `internal`. */
  log: Logger
  /** The text without any of the app's secrets. */
  scrub: (text: string) => string
  /** Fleet mode: where probes are shared with the other replicas (`undefined`: each replica on its own). */
  fleet?: Pick<Fleet, 'send'> | undefined
  /** Spans and the probe duration (`NO_TELEMETRY` without an OpenTelemetry SDK). */
  telemetry: Telemetry
  /** A key's probe URL, made once per key: the warm-up, every check and every probe use the same. */
  url: (spec: ResolvedKey) => URL
}

/** The key one check starts from: the key in use, its result, the `unreachable` verdicts held back so far. */
export interface Current {
  spec: ResolvedKey
  secret: string | undefined
  result: Pick<CheckResult, 'status' | 'cause'>
  strikes: number
}

/**
 * The context of one guard's checks; `close` destroys keyguard's own agents, sessions and connections;
 * `warm` opens the connections the boot's probes will use (see `ProbeTransport.warm`).
 */
export function createContext (
  options: ResolvedOptions,
  parts: Pick<Context, 'signal' | 'random' | 'forms' | 'onFault' | 'log' | 'scrub' | 'fleet' | 'telemetry'>
): Context & { close: () => void, warm: () => void } {
  const probing = options.probe
  const transport = new ProbeTransport(probing === false ? undefined : probing.dispatcher, options.env)
  const env = envLoader(options.env, options.dotenv, options.keys.map((spec) => spec.env))
  const pause = (ms: number): Promise<void> => sleep(ms, parts.signal)
  const route: ProbeSettings['route'] = (url, timeout) => transport.route(url, timeout)
  const closing = new Set<() => void>()
  parts.signal.addEventListener('abort', () => { for (const fn of closing) fn() }, { once: true })
  const onAbort = (fn: () => void): (() => void) => {
    closing.add(fn)
    return () => { closing.delete(fn) }
  }
  const urls = new Map<ResolvedKey, URL>()
  const url = (spec: ResolvedKey): URL => {
    let made = urls.get(spec)
    if (made === undefined) urls.set(spec, made = probeUrl(spec.baseUrl, spec.provider))
    return made
  }
  const warm = (): void => {
    // Not in fleet mode, where a replica may have nothing to probe (the transport skips proxies and dispatchers).
    if (probing === false || parts.fleet !== undefined) return
    for (const spec of options.keys) if (spec.probe && configured(spec)) transport.warm(url(spec), probing.timeout)
  }
  // A key that is not set yet (an optional one, or one a later plugin sets) gets no connection ahead; a
  // .env file is read only at ready().
  const configured = (spec: ResolvedKey): boolean => spec.value !== undefined || options.dotenv !== false ||
    Object.hasOwn(options.env, spec.env) || Object.hasOwn(options.env, `${spec.env}_FILE`)
  const close = (): void => transport.close()
  return { ...parts, options, env, pause, dispatcher: () => transport.get(), route, onAbort, warm, close, url }
}

interface Read {
  reading: Reading
  verdict?: Verdict
  secret?: string
  notes: NoteCode[]
}

/** Reads the key from its source and inspects it offline. */
async function read (spec: ResolvedKey, env: Env): Promise<Read> {
  const source = { name: spec.name, env: spec.env, value: spec.value, words: providerWords(spec.provider.id, spec.env) }
  const reading = await readSource(source, env)
  if (reading.verdict !== undefined) return { reading, verdict: reading.verdict, notes: reading.notes }
  const value = reading.value as string
  const max = spec.provider.key?.maxLength
  if (value.length > inspectable(max)) {
    const facts = { length: value.length, max: max ?? KEY_LENGTH.max }
    return { reading, verdict: { cause: 'malformed', reason: 'too-long', facts }, notes: reading.notes }
  }
  const inspection = inspect(value, spec.provider, ALL_PROVIDERS, foreignPrefixes)
  const notes = [...reading.notes, ...inspection.notes]
  if (!inspection.ok) return { reading, verdict: inspection.verdict, notes }
  return { reading, secret: inspection.key, notes }
}

/**
 * One check of one key: read, inspect, probe. A source that broke while the key in use works is read
 * again before it counts; a rotated-in key the provider refuses does not replace one that still works;
 * one `unreachable` of a working key is held back when an outage would fail it. `undefined` when aborted.
 */
export async function check (
  context: Context, current: Current, deadline?: number
): Promise<Next | typeof HOLD | undefined> {
  try {
    return await pipeline(context, current, sender(context, current.spec, deadline))
  } catch (err) {
    // Only errors reach here (env-schema's, say); their message may quote a value, so it is scrubbed.
    const { code, message } = err as NodeJS.ErrnoException
    const error = { message: context.scrub(String(message)), code }
    const fields = { keyguard: { key: current.spec.name, code }, err: error }
    context.log.error(fields, 'fastify-keyguard: checking a key failed unexpectedly')
    const reading = { source: 'none' as const, where: current.spec.env, notes: [] }
    return { verdict: { cause: 'unreachable', reason: 'internal' }, reading, notes: [], secret: current.secret }
  }
}

async function pipeline (
  context: Context, current: Current, send: ((key: string) => Promise<Verdict>) | undefined
): Promise<Next | typeof HOLD | undefined> {
  const { spec, result } = current
  let found = await read(spec, await context.env())
  // A source that changed into something broken while the key in use works may be mid-rotation
  // (truncated, then written): read again a few times before believing it.
  const tries = current.secret !== undefined && result.status !== 'fail' ? SETTLE.tries : 0
  for (let n = 0; found.verdict !== undefined && n < tries; n++) {
    await context.pause(SETTLE.wait)
    if (context.signal.aborted) break
    found = await read(spec, await context.env())
  }
  const base = { reading: found.reading, notes: found.notes, secret: found.secret }
  if (found.verdict !== undefined) {
    // An optional key left empty (compose's `FOO=`) is as absent as an unset one.
    if (!spec.required && ['unset', 'empty', 'blank'].includes(found.verdict.reason)) {
      return { ...base, verdict: { cause: 'unchecked', reason: 'not-configured', facts: found.verdict.facts as Facts } }
    }
    return { ...base, verdict: found.verdict }
  }
  if (send === undefined) return { ...base, verdict: { cause: 'unchecked', reason: 'probe-disabled' } }
  const verdict = await send(found.secret as string)
  if (verdict.reason === 'aborted') return undefined
  const working = result.status !== 'fail' && result.cause !== 'pending'
  // Validate, then swap: a rotated-in key the provider refuses does not replace one that still works.
  const swap = working && current.secret !== undefined && current.secret !== found.secret
  if (swap && CAUSES[verdict.cause].status === 'fail') {
    const kept = await send(current.secret as string)
    if (CAUSES[kept.cause].status !== 'fail') {
      return { ...base, secret: current.secret, notes: [...base.notes, 'rotation-refused'], verdict: kept }
    }
  }
  // One blip does not pull a working key out of rotation when an outage would fail it.
  const outage = verdict.cause === 'unreachable' && statusOf('unreachable', context.options.onUnreachable) === 'fail'
  if (outage && working && current.strikes < STRIKES - 1) return HOLD
  return { ...base, verdict }
}

/** The result of a key before its first check. */
export function pendingResult (spec: ResolvedKey, checkedAt: string): CheckResult {
  const { message, fix } = describe({ cause: 'pending', reason: 'pending' }, subjectOf(spec, spec.env))
  const { name, env } = spec
  const base = { name, provider: spec.provider.id, env, status: 'fail', cause: 'pending', reason: 'pending' } as const
  return { ...base, message, fix, source: 'none', checkedAt }
}

/** How a key is probed: `undefined` when it is not (probing is off for it). */
function sender (
  context: Context, spec: ResolvedKey, deadline: number | undefined
): ((key: string) => Promise<Verdict>) | undefined {
  const { probe: settings } = context.options
  if (settings === false || !spec.probe) return undefined
  const { signal, random, forms, route, onAbort } = context
  const onFault = (err: Error): void => context.onFault(err, spec)
  const { timeout, retries } = settings
  const url = context.url(spec)
  const common = { timeout, retries, signal, random, forms, onFault, route, onAbort, url }
  const dispatcher = context.dispatcher()
  const each = { ...common, dispatcher, ...(deadline === undefined ? {} : { deadline }) }
  const { telemetry, fleet } = context
  const target = { key: spec.name, provider: spec.provider.id, method: spec.provider.probe.method ?? 'GET' }
  const send = (key: string): Promise<Verdict> => telemetry.probe({ ...target, url }, (inject) =>
    probe(spec.baseUrl, spec.provider, key, inject === undefined ? each : { ...each, inject }))
  return fleet === undefined ? send : (key) => fleet.send(spec, key, send, deadline)
}

/** What the messages about a key name: its provider, where it was read, its fingerprint. */
export function subjectOf (spec: ResolvedKey, where: string, fp?: string, source?: Reading['source']): Subject {
  const target = source === 'file' ? `the file ${where}` : source === 'value' ? where : undefined
  const { label, dashboard } = spec.provider
  // A fix names baseUrl only when the user set it: a shipped provider's own API is not theirs to check.
  const shipped = Object.hasOwn(providers, spec.provider.id) ? providers[spec.provider.id as ProviderId] : undefined
  const baseUrl = shipped?.baseUrl === spec.baseUrl ? undefined : spec.baseUrl
  return { label, where, env: spec.env, target, fingerprint: fp, dashboard, baseUrl }
}

/** The result a check's outcome gives the key, with its wording, and the subject it names. */
export function resultOf (
  spec: ResolvedKey, next: Next, onUnreachable: ResolvedOptions['onUnreachable']
): { result: CheckResult, subject: Subject } {
  const { verdict, reading, notes } = next
  const fp = next.secret === undefined ? undefined : fingerprint(next.secret, spec.provider.key?.prefixes)
  const subject = subjectOf(spec, reading.where, fp, reading.source)
  const { message, fix } = describe(verdict, subject, notes)
  const result: CheckResult = {
    name: spec.name,
    provider: spec.provider.id,
    env: spec.env,
    status: statusOf(verdict.cause, onUnreachable),
    cause: verdict.cause,
    reason: verdict.reason,
    message,
    fix,
    source: reading.source,
    checkedAt: new Date().toISOString()
  }
  if (fp !== undefined) result.fingerprint = fp
  if (verdict.latencyMs !== undefined) result.latencyMs = verdict.latencyMs
  if (verdict.httpStatus !== undefined) result.httpStatus = verdict.httpStatus
  if (verdict.requestId !== undefined) result.requestId = verdict.requestId
  if (notes.length > 0) result.notes = describeNotes(notes, subject)
  return { result, subject }
}
