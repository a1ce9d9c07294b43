import { setMaxListeners } from 'node:events'
import { check, createContext, HOLD, pendingResult, resultOf, subjectOf } from './check.js'
import type { Context, Next } from './check.js'
import { FST_KEYGUARD_KEY_UNAVAILABLE } from './errors.js'
import { Fleet } from './fleet.js'
import { asError, callSafely, transition } from './log.js'
import type { Logger } from './log.js'
import type { ResolvedKey, ResolvedOptions } from './options.js'
import { safeName, scrub, scrubError, SecretForms } from './redact.js'
import { aggregate } from './report.js'
import type { Change, CheckResult, Report } from './report.js'
import { REAL_CLOCK, Schedule } from './schedule.js'
import { NO_TELEMETRY } from './telemetry.js'
import type { Telemetry } from './telemetry.js'
import type { Clock, Collaborators, Plan } from './schedule.js'
import { describeMismatch } from './wording.js'

/** Fewest ms between two rechecks triggered by upstream 401s (a burst of 1 000 causes one probe). */
export const SUSPECT_GAP = 5_000

class Entry {
  readonly spec: ResolvedKey
  /** The clean key in use, when one passed inspection. Never logged. */
  secret: string | undefined = undefined
  /** Consecutive `unreachable` verdicts held back from a passing key (hysteresis). */
  strikes = 0
  /** Clock time of the last recheck raised by an upstream 401. */
  lastSuspect = -Infinity
  /** Fingerprint of another credential a rejected request carried (or `UNSEEN`), until the key changes. */
  mismatch?: string | typeof UNSEEN | undefined
  #result: CheckResult | undefined
  /** When the guard was made: the `checkedAt` of the pending result. */
  readonly #since: string

  constructor (spec: ResolvedKey, since: string) {
    this.spec = spec
    this.#since = since
  }

  /**
   * The key's current result. Before its first check, the pending one, worded when first read: a boot
   * replaces every key's pending result, mostly unread (issue 17).
   */
  get result (): CheckResult {
    this.#result ??= pendingResult(this.spec, this.#since)
    return this.#result
  }

  set result (result: CheckResult) {
    this.#result = result
  }

  /** The result when one was made or read, else `undefined` (still the pending result, never worded). */
  peek (): CheckResult | undefined {
    return this.#result
  }
}

/** What a check and `transition` read of a pending result, without wording it. */
const PENDING = Object.freeze({ status: 'fail', cause: 'pending' } as const)

/**
 * Per-key state and its events: results and the report cache, transitions with their log lines and
 * `onChange`, the secrets and their forms, suspicion raised by upstream 401s. The only stateful module;
 * the check pipeline (check.ts) and the schedule (schedule.ts) work for it.
 */
export class Guard {
  readonly #options: ResolvedOptions
  readonly #log: Logger
  readonly #entries = new Map<string, Entry>()
  readonly #controller = new AbortController()
  readonly #clock: Clock
  readonly #schedule: Schedule
  readonly #context: Context & { close: () => void, warm: () => void }
  readonly #fleet: Fleet | undefined
  /** The forms of this app's secrets, for scrubbing and echo checks; emptied on close. */
  readonly forms = new SecretForms()
  /** Metrics and spans (a no-op without an OpenTelemetry SDK). */
  readonly telemetry: Telemetry
  #closed = false
  #draining = false
  #version = 0
  #report: Report | undefined
  #secrets: readonly string[] | undefined

  constructor (options: ResolvedOptions, log: Logger, collaborators: Collaborators & { telemetry?: Telemetry } = {}) {
    const { random = Math.random, clock = REAL_CLOCK, telemetry = NO_TELEMETRY } = collaborators
    this.telemetry = telemetry
    this.#options = options
    this.#log = log
    this.#clock = clock
    // Waits between retries and settle re-reads listen for the close; dozens of keys are expected, not a leak.
    setMaxListeners(0, this.#controller.signal)
    this.#schedule = new Schedule((name, deadline) => this.#check(name, deadline), options.probe, clock, random)
    const onFault = (err: Error, spec: ResolvedKey): void =>
      this.#failed(err, `the classify() or valid() of the ${spec.provider.label} ProviderSpec failed`, spec.name)
    const scrub = (text: string): string => this.scrub(text)
    const signal = this.#controller.signal
    // A verdict another replica shared: the check finds it fresh and probes nothing.
    const onVerdict = (name: string): void => { if (!this.#schedule.running(name)) this.#schedule.run(name) }
    this.#fleet = options.fleet === false
      ? undefined
      : new Fleet(options.fleet, { log, clock, random, probe: options.probe, onVerdict })
    const fleet = this.#fleet
    this.#context = createContext(options, { signal, random, forms: this.forms, log, scrub, onFault, fleet, telemetry })
    const since = new Date().toISOString()
    for (const spec of options.keys) this.#entries.set(spec.name, new Entry(spec, since))
    telemetry.watch(() => [...this.#entries.values()].map((entry) => entry.result))
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
    return structuredClone(this.#snapshot())
  }

  /** The report, cached until a key changes; never handed to the application, which gets copies. */
  #snapshot (): Report {
    if (this.#report === undefined) {
      const checks: Record<string, CheckResult> = {}
      for (const [name, entry] of this.#entries) checks[name] = entry.result
      this.#report = { status: aggregate(Object.values(checks).map((check) => check.status)), checks }
    }
    return this.#report
  }

  /** The aggregate status, without copying anything. */
  status (): Report['status'] {
    return aggregate([...this.#entries.values()].map((entry) => entry.result.status))
  }

  /** The clean current key. Throws `FST_KEYGUARD_KEY_UNAVAILABLE` when it is unknown, missing or malformed. */
  key (name?: string): string {
    const entry = this.#pick(name)
    if (entry.secret === undefined) {
      const { env, cause, message, fix } = entry.result
      const why = `${cause}. ${message} Fix: ${fix}`
      throw new FST_KEYGUARD_KEY_UNAVAILABLE(`Key "${entry.spec.name}" (${env}) cannot be used: ${why}`)
    }
    return entry.secret
  }

  /** `text` without any of this app's secrets, in any form. */
  scrub (text: string): string {
    return scrub(text, this.secrets(), this.forms)
  }

  /** Every current secret, for scrubbing text that may echo one. */
  secrets (): readonly string[] {
    this.#secrets ??= [...this.#entries.values()].flatMap((entry) => entry.secret ?? [])
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

  /** Milliseconds until the next check of any of `names`; `undefined` when none is scheduled. */
  nextCheck (names: Iterable<string>): number | undefined {
    return this.#schedule.nextIn(names)
  }

  /** Opens the connections the boot check will probe through, while the app goes on registering. */
  warm (): void {
    this.#context.warm()
  }

  /**
   * The boot check: every key concurrently (at most `CONCURRENCY` at a time), each probe ending by `deadline`.
   * Resolves to the report itself, not a copy: its callers (the plugin's `onReady`, the CLI) only read it.
   */
  async start (deadline: number): Promise<Readonly<Report>> {
    await this.#fleet?.start()
    await this.telemetry.boot(() => this.#schedule.runAll(this.names(), deadline))
    return this.#snapshot()
  }

  /** Re-reads and re-probes one key, or all; joins a check already running. Resolves to the new report. */
  async recheck (name?: string): Promise<Report> {
    const names = name === undefined ? this.names() : [this.#pick(name).spec.name]
    // Asked for by the application: a fresh probe (one for the fleet), not the verdict shared last.
    for (const key of names) this.#fleet?.suspect(key)
    await Promise.all(names.map((key) => this.#schedule.run(key)))
    return this.report()
  }

  /**
   * An upstream answered 401 to this key at runtime. Rechecks it now unless a check is running, the key
   * is already known to fail, or the last such recheck started less than `SUSPECT_GAP` ms ago.
   */
  suspect (name: string): void {
    const entry = this.#entries.get(name)
    // Fleet mode: the running check may end on a shared verdict older than this 401; suspect again after it.
    if (this.#fleet !== undefined && this.#schedule.running(name)) {
      this.#schedule.run(name).then(() => this.suspect(name))
      return
    }
    if (entry === undefined || this.#closed || entry.result.status === 'fail' || this.#schedule.running(name)) return
    const now = this.#clock.now()
    if (now - entry.lastSuspect < SUSPECT_GAP) return
    entry.lastSuspect = now
    const keyguard = { key: name, provider: entry.spec.provider.id }
    this.#log.warn({ keyguard }, `fastify-keyguard: the upstream rejected key "${name}" at runtime; rechecking it`)
    this.#fleet?.suspect(name)
    this.#schedule.run(name).then(() => {
      // The key passes: whatever the upstream rejected, it was not this key.
      if (entry.result.cause === 'valid') this.mismatch(name, UNSEEN)
    })
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
    const subject = subjectOf(entry.spec, entry.spec.env, entry.result.fingerprint)
    const { mismatch } = entry
    const previous = mismatch === undefined ? undefined : describeMismatch(subject, seen(mismatch)).message
    entry.mismatch = sent
    const { message, fix } = describeMismatch(subject, seen(sent))
    const notes = (entry.result.notes ?? []).filter((note) => note !== previous)
    this.#set(entry, { ...entry.result, notes: [...notes, message] })
    const { provider, fingerprint } = entry.result
    const keyguard = { key: name, provider, sent: seen(sent), fingerprint }
    this.#log.warn({ keyguard }, `fastify-keyguard: ${message} Fix: ${fix}`)
  }

  /**
   * Stops every timer and aborts every probe at once; a check that ends later changes nothing. Resolves
   * when fleet mode has released its leases and closed its subscription (at once without fleet mode).
   */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#controller.abort(new DOMException('fastify-keyguard is closing', 'AbortError'))
    this.#schedule.close()
    this.#context.close()
    this.telemetry.close()
    this.forms.clear()
    await this.#fleet?.close()
  }

  #pick (name: string | undefined): Entry {
    if (name === undefined) {
      if (this.#entries.size === 1) return this.#entries.values().next().value as Entry
      throw new FST_KEYGUARD_KEY_UNAVAILABLE(`Several keys are guarded (${this.names().join(', ')}); name one`)
    }
    // A key passed where its name belongs (key(process.env.X)) must not reach the message.
    const entry = typeof name === 'string' ? this.#entries.get(name) : undefined
    if (entry !== undefined) return entry
    const names = this.names().join(', ')
    throw new FST_KEYGUARD_KEY_UNAVAILABLE(`No key named ${safeName(name)}; guarded keys: ${names}`)
  }

  #set (entry: Entry, result: CheckResult): void {
    entry.result = result
    this.#version++
    this.#report = undefined
  }

  /** One check of a key, for the schedule: never rejects; `undefined` when it was aborted or the guard closed. */
  async #check (name: string, deadline?: number): Promise<Plan | undefined> {
    const entry = this.#entries.get(name) as Entry
    // What the check reads of the key's result: a key never checked has its pending result unworded.
    const { spec, secret, strikes } = entry
    const next = await check(this.#context, { spec, secret, strikes, result: entry.peek() ?? PENDING }, deadline)
    if (this.#closed || next === undefined) return undefined
    if (next === HOLD) {
      entry.strikes++
      return { failing: true }
    }
    entry.strikes = 0
    this.#apply(entry, next)
    const { status, cause } = entry.result
    return { failing: status === 'fail' || cause === 'unreachable', retryAfterMs: next.verdict.retryAfterMs }
  }

  #apply (entry: Entry, next: Next): void {
    const { spec } = entry
    const { result, subject } = resultOf(spec, next, this.#options.onUnreachable)
    const fp = result.fingerprint
    if (entry.mismatch !== undefined && fp !== entry.result.fingerprint) entry.mismatch = undefined
    if (entry.mismatch !== undefined) {
      result.notes = [...result.notes ?? [], describeMismatch(subject, seen(entry.mismatch)).message]
    }
    entry.secret = next.secret
    this.#secrets = undefined
    const { onChange } = this.#options
    // The pending result is worded only for onChange, which hands it out.
    const previous = onChange === undefined ? entry.peek() : entry.result
    this.#set(entry, result)
    const line = transition(previous ?? PENDING, result)
    if (line === undefined) return
    this.#log[line.level]({ keyguard: line.keyguard }, line.message)
    if (onChange === undefined) return
    // Read through entry.result above: never undefined here.
    const change: Change = { name: spec.name, previous: previous as CheckResult, current: structuredClone(result) }
    const failed = (err: unknown): void => this.#failed(err, 'the onChange callback threw or rejected', spec.name)
    callSafely(() => onChange(this.report(), change), failed)
  }

  /** Logs what the application's code threw, once, as `{ err }`, scrubbed of every key. */
  #failed (err: unknown, what: string, key: string): void {
    const error = asError(err)
    scrubError(error, this.secrets(), this.forms)
    this.#log.error({ keyguard: { key }, err: error }, `fastify-keyguard: ${what}`)
  }
}

/** A rejected request whose credential keyguard could not see, while the key passes its probe. */
const UNSEEN = Symbol('unseen')
const seen = (sent: string | typeof UNSEEN): string | undefined => sent === UNSEEN ? undefined : sent
