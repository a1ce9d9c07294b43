import { setMaxListeners } from 'node:events'
import type { Dispatcher } from 'undici'
import { FST_KEYGUARD_KEY_UNAVAILABLE } from './errors.js'
import { inspect, KEY_LENGTH } from './inspect.js'
import type { Logger } from './log.js'
import type { ResolvedKey, ResolvedOptions } from './options.js'
import { probe, sleep } from './probe.js'
import { foreignPrefixes, providers } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'
import { fingerprint, safeName, scrub, scrubError, SecretForms } from './redact.js'
import { aggregate } from './report.js'
import type { Change, CheckResult, Report } from './report.js'
import { MAX_KEY_FILE, providerWords, readSource } from './source.js'
import type { Env, Reading } from './source.js'
import { createAgent, proxyEnv } from './transport.js'
import { CAUSES, describe, describeMismatch, describeNotes, statusOf } from './verdict.js'
import type { Facts, NoteCode, Subject, Verdict } from './verdict.js'

/** Fewest ms between two rechecks triggered by upstream 401s (a burst of 1 000 causes one probe). */
export const SUSPECT_GAP = 5_000
/** Re-reads of a changed, now-broken source before it counts (a half-written file during rotation). */
export const SETTLE = Object.freeze({ tries: 3, wait: 250 })
/** Rechecks of a failing or unreachable key: full jitter up to base·2ⁿ, at most `cap`, at least `floor` ms. */
export const BACKOFF = Object.freeze({ base: 1_000, cap: 300_000, floor: 100 })
/** Consecutive `unreachable` verdicts before a passing key fails under `onUnreachable: 'degrade' | 'refuse'`. */
const STRIKES = 2
/** Keys checked at once at boot. */
export const CONCURRENCY = 32
/** `Retry-After` (s) of a gated route: the time to the next check, within these bounds; `none` when none is scheduled. */
export const GATE_RETRY_AFTER = Object.freeze({ min: 1, max: 300, none: 60 })

/**
 * Longest value inspected, in UTF-16 units: beyond it a value is refused as too long without being
 * split or scanned (a 50 MB `value` would block the event loop for seconds). Twice the provider's
 * longest key, so a key of astral characters is still judged by inspection, and never below the
 * `_FILE` size cap.
 */
export const inspectable = (maxLength: number = KEY_LENGTH.max): number => Math.max(MAX_KEY_FILE, 2 * maxLength)

interface Entry {
  spec: ResolvedKey
  result: CheckResult
  /** The clean key in use, when one passed inspection. Never logged. */
  secret: string | undefined
  inflight: Promise<void> | undefined
  timer: NodeJS.Timeout | undefined
  /** Consecutive failing checks, for backoff. */
  failures: number
  /** Consecutive `unreachable` verdicts held back from a passing key (hysteresis). */
  strikes: number
  lastSuspect: number
  retryAfterMs: number | undefined
  /** `performance.now()` of the next scheduled check. */
  nextAt: number | undefined
  /** Fingerprint of another credential a rejected request carried (or `UNSEEN`), until the key changes. */
  mismatch?: string | typeof UNSEEN | undefined
}

const ALL_PROVIDERS: readonly ProviderSpec[] = Object.values(providers)

/**
 * Per-key state and everything that changes it: the boot check, periodic rechecks with jitter and
 * backoff, singleflight, rotation, suspicion raised by upstream 401s, transitions and their events.
 * The only stateful module; health routes, the route gate and the decorator read from it.
 */
export class Guard {
  readonly #options: ResolvedOptions
  readonly #log: Logger
  readonly #entries = new Map<string, Entry>()
  readonly #controller = new AbortController()
  readonly #random: () => number
  /** The forms of this app's secrets, for scrubbing and echo checks; emptied on close. */
  readonly forms = new SecretForms()
  #closed = false
  #draining = false
  #version = 0
  #report: Report | undefined
  #secrets: readonly string[] | undefined
  #dispatcher: Dispatcher | undefined
  #ownDispatcher = false
  #dotenvSchema: Record<string, unknown> | undefined

  constructor (options: ResolvedOptions, log: Logger, random: () => number = Math.random) {
    this.#options = options
    this.#log = log
    this.#random = random
    // Every probe attempt listens for the close; dozens of keys are expected, not a leak.
    setMaxListeners(0, this.#controller.signal)
    const checkedAt = new Date().toISOString()
    for (const spec of options.keys) {
      const subject = this.#subject(spec, spec.env)
      const { message, fix } = describe({ cause: 'pending', reason: 'pending' }, subject)
      this.#entries.set(spec.name, {
        spec,
        result: { name: spec.name, provider: spec.provider.id, env: spec.env, status: 'fail', cause: 'pending', reason: 'pending', message, fix, source: 'none', checkedAt },
        secret: undefined,
        inflight: undefined,
        timer: undefined,
        failures: 0,
        strikes: 0,
        lastSuspect: -Infinity,
        retryAfterMs: undefined,
        nextAt: undefined
      })
    }
  }

  /** Increases with every change of any key; lets readers cache what they render. */
  get version (): number {
    return this.#version
  }

  /** Whether the server has begun to close: readiness fails from then on. */
  get draining (): boolean {
    return this.#draining
  }

  /** Marks the server as closing (Fastify's `preClose`), before any connection is refused. */
  drain (): void {
    this.#draining = true
  }

  /** Whether a key of this name is guarded. */
  has (name: string): boolean {
    return this.#entries.has(name)
  }

  /** Key names, in option order. */
  names (): string[] {
    return [...this.#entries.keys()]
  }

  /** The current result of one key. */
  result (name: string): CheckResult | undefined {
    return this.#entries.get(name)?.result
  }

  /** Every key's current result and the aggregate status. Holds no secret. */
  report (): Report {
    if (this.#report === undefined) {
      const checks: Record<string, CheckResult> = {}
      for (const [name, entry] of this.#entries) checks[name] = entry.result
      this.#report = { status: aggregate(Object.values(checks).map((check) => check.status)), checks }
    }
    return structuredClone(this.#report)
  }

  /** The aggregate status, without copying anything. */
  status (): Report['status'] {
    return aggregate([...this.#entries.values()].map((entry) => entry.result.status))
  }

  /** The clean current key. Throws `FST_KEYGUARD_KEY_UNAVAILABLE` when it is unknown, missing or malformed. */
  key (name?: string): string {
    const entry = this.#pick(name)
    if (entry.secret === undefined) {
      const r = entry.result
      throw new FST_KEYGUARD_KEY_UNAVAILABLE(`Key "${entry.spec.name}" (${r.env}) cannot be used: ${r.cause}. ${r.message} Fix: ${r.fix}`)
    }
    return entry.secret
  }

  /** `text` without any of this app's secrets, in any form. */
  scrub (text: string): string {
    return scrub(text, this.secrets(), this.forms)
  }

  /** Every current secret, for scrubbing text that may echo one. */
  secrets (): readonly string[] {
    this.#secrets ??= [...this.#entries.values()].flatMap((entry) => entry.secret === undefined ? [] : [entry.secret])
    return this.#secrets
  }

  /** The first of `names` whose key a gated route must not use now, if any. */
  blocking (names: readonly string[]): string | undefined {
    for (const name of names) {
      const result = this.#entries.get(name)?.result
      if (result === undefined || result.status === 'fail' || result.reason === 'not-configured') return name
    }
    return undefined
  }

  /** Seconds until the next check of any of `names` (for `Retry-After`), between 1 and 300. */
  retryAfter (names: readonly string[]): number {
    const now = performance.now()
    let soonest = Infinity
    for (const name of names) {
      const next = this.#entries.get(name)?.nextAt
      if (next !== undefined) soonest = Math.min(soonest, next - now)
    }
    if (soonest === Infinity) return GATE_RETRY_AFTER.none
    return Math.min(GATE_RETRY_AFTER.max, Math.max(GATE_RETRY_AFTER.min, Math.ceil(soonest / 1000)))
  }

  /** The boot check: every key concurrently (at most 32 at a time), each probe ending by `deadline`. */
  async start (deadline: number): Promise<Report> {
    const queue = [...this.#entries.values()]
    const worker = async (): Promise<void> => {
      for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) await this.#run(entry, deadline)
    }
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker))
    return this.report()
  }

  /** Re-reads and re-probes one key, or all; joins a check already running. Resolves to the new report. */
  async recheck (name?: string): Promise<Report> {
    const entries = name === undefined ? [...this.#entries.values()] : [this.#pick(name)]
    await Promise.all(entries.map((entry) => this.#run(entry)))
    return this.report()
  }

  /**
   * An upstream answered 401 to this key at runtime. Rechecks it now unless a check is running, the key
   * is already known to fail, or the last such recheck started less than `SUSPECT_GAP` ms ago.
   */
  suspect (name: string): void {
    const entry = this.#entries.get(name)
    if (entry === undefined || this.#closed || entry.inflight !== undefined || entry.result.status === 'fail') return
    const now = performance.now()
    if (now - entry.lastSuspect < SUSPECT_GAP) return
    entry.lastSuspect = now
    this.#log.warn({ keyguard: { key: name, provider: entry.spec.provider.id } }, `fastify-keyguard: the upstream rejected key "${name}" at runtime; rechecking it`)
    this.#run(entry).then(() => {
      // The key passes: whatever the upstream rejected, it was not this key.
      if (entry.result.cause === 'valid') this.mismatch(name, UNSEEN)
    }, () => {})
  }

  /** Whether `sent` is the key in use for `name`; `undefined` when there is none to compare with. */
  sends (name: string, sent: string): boolean | undefined {
    const secret = this.#entries.get(name)?.secret
    return secret === undefined ? undefined : secret === sent
  }

  /**
   * The upstream rejected a request that carried another credential than this key (`sent` is its
   * fingerprint): the key is not suspected; the operator is told once per credential, in the log and
   * in the key's notes until the key changes.
   */
  mismatch (name: string, sent: string | typeof UNSEEN): void {
    const entry = this.#entries.get(name)
    if (entry === undefined || entry.mismatch === sent) return
    const subject = this.#subject(entry.spec, entry.spec.env, entry.result.fingerprint)
    const previous = entry.mismatch === undefined ? undefined : describeMismatch(subject, seen(entry.mismatch)).message
    entry.mismatch = sent
    const { message, fix } = describeMismatch(subject, seen(sent))
    const notes = (entry.result.notes ?? []).filter((note) => note !== previous)
    entry.result = { ...entry.result, notes: [...notes, message] }
    this.#version++
    this.#report = undefined
    const { provider, fingerprint } = entry.result
    this.#log.warn({ keyguard: { key: name, provider, sent: seen(sent), fingerprint } }, `fastify-keyguard: ${message} Fix: ${fix}`)
  }

  /** Stops every timer and aborts every probe at once; a check that ends later changes nothing. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#controller.abort(new DOMException('fastify-keyguard is closing', 'AbortError'))
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer)
      entry.timer = undefined
    }
    if (this.#ownDispatcher) {
      this.#dispatcher?.destroy().catch(() => {})
      this.#dispatcher = undefined
    }
    this.forms.clear()
  }

  #pick (name: string | undefined): Entry {
    if (name === undefined) {
      if (this.#entries.size === 1) return this.#entries.values().next().value as Entry
      throw new FST_KEYGUARD_KEY_UNAVAILABLE(`Several keys are guarded (${this.names().join(', ')}); name one`)
    }
    // A key passed where its name belongs (key(process.env.X)) must not reach the message.
    const entry = typeof name === 'string' ? this.#entries.get(name) : undefined
    if (entry === undefined) throw new FST_KEYGUARD_KEY_UNAVAILABLE(`No key named ${safeName(name)}; guarded keys: ${this.names().join(', ')}`)
    return entry
  }

  #subject (spec: ResolvedKey, where: string, fp?: string, source?: Reading['source']): Subject {
    const target = source === 'file' ? `the file ${where}` : source === 'value' ? where : undefined
    return { label: spec.provider.label, where, env: spec.env, target, fingerprint: fp, dashboard: spec.provider.dashboard }
  }

  /** Runs one check of `entry` unless one is running (singleflight); never rejects. */
  #run (entry: Entry, deadline?: number): Promise<void> {
    if (entry.inflight !== undefined) return entry.inflight
    if (this.#closed) return Promise.resolve()
    clearTimeout(entry.timer)
    entry.timer = undefined
    const run = this.#check(entry, deadline)
      .catch((err: unknown) => this.#internal(entry, err))
      .then((next) => {
        entry.inflight = undefined
        if (this.#closed || next === undefined) return
        if (next === HOLD) return this.#schedule(entry, true)
        this.#apply(entry, next)
        this.#schedule(entry)
      })
    entry.inflight = run
    return run
  }

  #internal (entry: Entry, err: unknown): Next {
    // Only errors reach here (env-schema's, say); their message may quote a value, so it is scrubbed.
    const { code, message } = err as NodeJS.ErrnoException
    this.#log.error({ keyguard: { key: entry.spec.name, code }, err: { message: this.scrub(String(message)), code } }, 'fastify-keyguard: checking a key failed unexpectedly')
    return { verdict: { cause: 'unreachable', reason: 'internal' }, reading: { source: 'none', where: entry.spec.env, notes: [] }, notes: [], secret: entry.secret }
  }

  async #env (): Promise<Env> {
    if (this.#options.dotenv === false) return this.#options.env
    const { default: envSchema } = await import('env-schema')
    if (this.#dotenvSchema === undefined) {
      const properties: Record<string, { type: 'string' }> = {}
      for (const { spec } of this.#entries.values()) {
        properties[spec.env] = { type: 'string' }
        properties[`${spec.env}_FILE`] = { type: 'string' }
      }
      this.#dotenvSchema = { type: 'object', properties }
    }
    const loaded = envSchema({ schema: this.#dotenvSchema, dotenv: { path: this.#options.dotenv }, env: false, data: [{ ...this.#options.env }] })
    return { ...this.#options.env, ...loaded } as Env
  }

  #transport (): Dispatcher | undefined {
    if (this.#options.probe !== false && this.#options.probe.dispatcher !== undefined) return this.#options.probe.dispatcher
    if (this.#dispatcher === undefined) {
      // Without a proxy, node:http(s) is enough; undici is loaded only for one.
      if (proxyEnv(this.#options.env) === undefined) return undefined
      this.#dispatcher = createAgent(this.#options.env)
      this.#ownDispatcher = true
    }
    return this.#dispatcher
  }

  async #read (entry: Entry): Promise<{ reading: Reading, verdict?: Verdict, secret?: string, notes: NoteCode[] }> {
    const { spec } = entry
    const source = { name: spec.name, env: spec.env, value: spec.value, words: providerWords(spec.provider.id, spec.env) }
    const reading = await readSource(source, await this.#env())
    if (reading.verdict !== undefined) return { reading, verdict: reading.verdict, notes: reading.notes }
    const value = reading.value as string
    const max = spec.provider.key?.maxLength
    if (value.length > inspectable(max)) {
      return { reading, verdict: { cause: 'malformed', reason: 'too-long', facts: { length: value.length, max: max ?? KEY_LENGTH.max } }, notes: reading.notes }
    }
    const inspection = inspect(value, spec.provider, ALL_PROVIDERS, foreignPrefixes)
    const notes = [...reading.notes, ...inspection.notes]
    if (!inspection.ok) return { reading, verdict: inspection.verdict, notes }
    return { reading, secret: inspection.key, notes }
  }

  async #check (entry: Entry, deadline?: number): Promise<Next | typeof HOLD | undefined> {
    const { spec } = entry
    let read = await this.#read(entry)
    // A source that changed into something broken while the key in use works may be mid-rotation
    // (truncated, then written): read again a few times before believing it.
    for (let tries = 0; read.verdict !== undefined && entry.secret !== undefined && entry.result.status !== 'fail' && tries < SETTLE.tries && !this.#closed; tries++) {
      await sleep(SETTLE.wait, this.#controller.signal)
      read = await this.#read(entry)
    }
    const base = { reading: read.reading, notes: read.notes, secret: read.secret }
    if (read.verdict !== undefined) {
      // An optional key left empty (compose's `FOO=`) is as absent as an unset one.
      if (!spec.required && ['unset', 'empty', 'blank'].includes(read.verdict.reason)) return { ...base, verdict: { cause: 'unchecked', reason: 'not-configured', facts: read.verdict.facts as Facts } }
      return { ...base, verdict: read.verdict }
    }
    const settings = this.#options.probe
    if (settings === false || !spec.probe) return { ...base, verdict: { cause: 'unchecked', reason: 'probe-disabled' } }
    const send = (key: string): Promise<Verdict> => probe(spec.baseUrl, spec.provider, key, {
      timeout: settings.timeout,
      retries: settings.retries,
      dispatcher: this.#transport(),
      signal: this.#controller.signal,
      random: this.#random,
      forms: this.forms,
      onFault: (err) => this.#callbackFailed(err, `the classify() or valid() of the ${spec.provider.label} ProviderSpec failed`, spec.name),
      ...(deadline === undefined ? {} : { deadline })
    })
    const verdict = await send(read.secret as string)
    if (verdict.reason === 'aborted') return undefined
    const working = entry.result.status !== 'fail' && entry.result.cause !== 'pending'
    // Validate, then swap: a rotated-in key the provider refuses does not replace one that still works.
    if (working && entry.secret !== undefined && entry.secret !== read.secret && CAUSES[verdict.cause].status === 'fail') {
      const kept = await send(entry.secret)
      if (CAUSES[kept.cause].status !== 'fail') return { ...base, secret: entry.secret, notes: [...base.notes, 'rotation-refused'], verdict: kept }
    }
    // One blip does not pull a working key out of rotation when an outage would fail it.
    if (verdict.cause === 'unreachable' && statusOf('unreachable', this.#options.onUnreachable) === 'fail' && working && entry.strikes < STRIKES - 1) {
      entry.strikes++
      return HOLD
    }
    entry.strikes = 0
    return { ...base, verdict }
  }

  #apply (entry: Entry, next: Next): void {
    const { spec } = entry
    const { verdict, reading, notes } = next
    const fp = next.secret === undefined ? undefined : fingerprint(next.secret, spec.provider.key?.prefixes)
    const subject = this.#subject(spec, reading.where, fp, reading.source)
    const { message, fix } = describe(verdict, subject)
    const result: CheckResult = {
      name: spec.name,
      provider: spec.provider.id,
      env: spec.env,
      status: statusOf(verdict.cause, this.#options.onUnreachable),
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
    if (entry.mismatch !== undefined && fp !== entry.result.fingerprint) entry.mismatch = undefined
    if (entry.mismatch !== undefined) result.notes = [...result.notes ?? [], describeMismatch(subject, seen(entry.mismatch)).message]
    entry.secret = next.secret
    this.#secrets = undefined
    entry.retryAfterMs = verdict.retryAfterMs
    const previous = entry.result
    entry.result = result
    this.#version++
    this.#report = undefined
    if (previous.cause === result.cause && previous.status === result.status && previous.fingerprint === result.fingerprint) return
    let level = CAUSES[result.cause].level
    if (level === 'info' && result.notes !== undefined) level = 'warn'
    const { name, provider, env, status, cause, reason, httpStatus, latencyMs } = result
    this.#log[level]({ keyguard: { key: name, provider, env, status, cause, reason, fingerprint: fp, httpStatus, latencyMs, from: previous.cause, notes: result.notes } }, `fastify-keyguard: ${message}${cause === 'valid' || cause === 'unchecked' ? '' : ` Fix: ${fix}`}`)
    if (this.#options.onChange !== undefined) this.#notify(this.#options.onChange, { name, previous, current: structuredClone(result) })
  }

  /**
   * Calls the application's `onChange`. Whatever it does — throw, return a Promise that rejects (an
   * `async` alert hook whose webhook is down), a thenable — the failure is logged once, never thrown
   * and never an unhandled rejection.
   */
  #notify (onChange: NonNullable<ResolvedOptions['onChange']>, change: Change): void {
    const failed = (err: unknown): void => this.#callbackFailed(err, 'the onChange callback threw or rejected', change.name)
    try {
      const returned: unknown = onChange(this.report(), change)
      if (returned !== null && (typeof returned === 'object' || typeof returned === 'function')) {
        const then = (returned as { then?: unknown }).then
        if (typeof then === 'function') Promise.resolve(returned).then(undefined, failed)
      }
    } catch (err) {
      failed(err)
    }
  }

  /** Logs what the application's code threw, once, as `{ err }`, scrubbed of every key. */
  #callbackFailed (err: unknown, what: string, key: string): void {
    const error = err instanceof Error ? err : new Error(`a non-Error value was thrown (${err === null ? 'null' : typeof err})`)
    scrubError(error, this.secrets(), this.forms)
    this.#log.error({ keyguard: { key }, err: error }, `fastify-keyguard: ${what}`)
  }

  #schedule (entry: Entry, failing = false): void {
    const settings = this.#options.probe
    if (settings === false || settings.interval === 0) return
    const { status, cause } = entry.result
    let delay: number
    if (failing || status === 'fail' || cause === 'unreachable') {
      entry.failures++
      const cap = Math.min(settings.interval, BACKOFF.cap)
      // Full jitter (AWS "Exponential Backoff and Jitter"), with a floor so a failing key never spins.
      delay = Math.max(Math.min(BACKOFF.floor, cap), this.#random() * Math.min(cap, BACKOFF.base * 2 ** (entry.failures - 1)))
    } else {
      entry.failures = 0
      delay = settings.interval * (1 + settings.jitter * (2 * this.#random() - 1))
    }
    if (entry.retryAfterMs !== undefined) delay = Math.max(delay, entry.retryAfterMs)
    entry.nextAt = performance.now() + delay
    // unref: a recheck never keeps the process alive (an app whose listen() failed must be able to exit).
    entry.timer = setTimeout(() => { this.#run(entry) }, delay).unref()
  }
}

/** A rejected request whose credential keyguard could not see, while the key passes its probe. */
const UNSEEN = Symbol('unseen')
const seen = (sent: string | typeof UNSEEN): string | undefined => sent === UNSEEN ? undefined : sent

/** A check whose verdict is held back (the first `unreachable` of a working key). */
const HOLD = Symbol('hold')

interface Next {
  verdict: Verdict
  reading: Reading
  notes: NoteCode[]
  secret: string | undefined
}
