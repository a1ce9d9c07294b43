import { setTimeout as wait } from 'node:timers/promises'

/** The time source of the schedule, injected so that a test drives it without sleeping. */
export interface Clock {
  /** Milliseconds on a monotonic scale, as `performance.now()`. */
  now: () => number
  /** Calls `fn` after `ms`; returns what `clearTimeout` takes. */
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (timer: unknown) => void
}

/** What a guard works with besides its options; each has a real default. */
export interface Collaborators {
  /** Source of jitter, `[0, 1)`. @default Math.random */
  random?: () => number
  /** The schedule's time. @default the real clock (`performance.now()`, unref'd timers) */
  clock?: Clock
}

/**
 * Keys checked at once at boot. Probes to an HTTPS origin are streams on one HTTP/2 connection, which the
 * provider bounds itself (SETTINGS_MAX_CONCURRENT_STREAMS, commonly 100 or more; Node queues beyond it);
 * an HTTP/1.1 origin gets at most this many connections. 64 keeps 50 keys to one round trip (at 32, a
 * 50-key boot waited for two).
 */
export const CONCURRENCY = 64

/**
 * The real clock. Its timers are unref'd: a recheck never keeps the process alive (an app whose listen()
 * failed must be able to exit).
 */
export const REAL_CLOCK: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(),
  clearTimeout: (timer: unknown) => clearTimeout(timer as NodeJS.Timeout)
})

/** Capped exponential backoff with full jitter: wait n is uniform up to base·2ⁿ, at most `cap`, at least `floor`. */
export interface Backoff {
  base: number
  cap: number
  floor: number
}

/** Rechecks of a failing or unreachable key (`cap` lowered to `interval` when that is shorter). */
export const BACKOFF: Readonly<Backoff> = Object.freeze({ base: 1_000, cap: 300_000, floor: 100 })
/** Waits between the attempts of one probe. */
export const PROBE_BACKOFF: Readonly<Backoff> = Object.freeze({ base: 200, cap: 2_000, floor: 0 })

/**
 * The wait before retry `n` (0 for the first): full jitter (AWS, "Exponential Backoff and Jitter"), so
 * replicas that failed together do not retry together, and a floor so that a failing key never spins.
 */
export function backoff (n: number, policy: Readonly<Backoff>, random: () => number): number {
  return Math.max(Math.min(policy.floor, policy.cap), random() * Math.min(policy.cap, policy.base * 2 ** n))
}

/** Waits `ms` on the real clock, or less if `signal` aborts; never rejects. */
export function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return wait(ms, undefined, { signal }).catch(() => {})
}

/** How often keys are rechecked; an `interval` of 0 (or no probing at all: `false`) turns every timer off. */
export interface Cadence {
  interval: number
  /** Spread of `interval`, as a fraction: 0.2 = ±20 %. */
  jitter: number
}

/** What a check asks of the schedule: whether the key is failing, and the least wait a provider asked for. */
export interface Plan {
  failing: boolean
  retryAfterMs?: number | undefined
}

/** The delay before the next check: the interval ± jitter, or backoff after `failures` failing checks in a row. */
export function delayOf (cadence: Cadence, plan: Plan, failures: number, random: () => number): number {
  const delay = plan.failing
    ? backoff(failures - 1, { ...BACKOFF, cap: Math.min(cadence.interval, BACKOFF.cap) }, random)
    : cadence.interval * (1 + cadence.jitter * (2 * random() - 1))
  return Math.max(delay, plan.retryAfterMs ?? 0)
}

interface Slot {
  timer: unknown
  /** Clock time of the next check, while one is scheduled. */
  at: number | undefined
  inflight: Promise<void> | undefined
  /** Consecutive failing checks, for backoff. */
  failures: number
}

/**
 * When each key is checked: one check of a key at a time (singleflight), then the next one armed on the
 * clock from the check's plan. `check` never rejects (the guard turns every error into a verdict) and
 * resolves to `undefined` when no next check is wanted (the check was aborted).
 */
export class Schedule {
  readonly #check: (key: string, deadline?: number) => Promise<Plan | undefined>
  readonly #cadence: Cadence
  readonly #clock: Clock
  readonly #random: () => number
  readonly #slots = new Map<string, Slot>()
  #closed = false

  constructor (
    check: (key: string, deadline?: number) => Promise<Plan | undefined>,
    cadence: Cadence | false,
    clock: Clock = REAL_CLOCK,
    random: () => number = Math.random
  ) {
    this.#check = check
    this.#cadence = cadence === false ? { interval: 0, jitter: 0 } : cadence
    this.#clock = clock
    this.#random = random
  }

  /** Whether a check of `key` is running now. */
  running (key: string): boolean {
    return this.#slots.get(key)?.inflight !== undefined
  }

  /** Checks `key` now unless a check of it is running, which is joined; its pending timer is dropped. */
  run (key: string, deadline?: number): Promise<void> {
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      slot = { timer: undefined, at: undefined, inflight: undefined, failures: 0 }
      this.#slots.set(key, slot)
    }
    if (slot.inflight !== undefined) return slot.inflight
    if (this.#closed) return Promise.resolve()
    this.#disarm(slot)
    const run = this.#check(key, deadline).then((plan) => {
      (slot as Slot).inflight = undefined
      if (plan !== undefined && !this.#closed) this.#arm(key, slot as Slot, plan)
    })
    slot.inflight = run
    return run
  }

  /** Checks every key of `keys`, at most `CONCURRENCY` at a time, each probe ending by `deadline`. */
  async runAll (keys: readonly string[], deadline: number): Promise<void> {
    const queue = [...keys]
    const worker = async (): Promise<void> => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) await this.run(key, deadline)
    }
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker))
  }

  /** Milliseconds until the soonest scheduled check of any of `keys`; `undefined` when none is scheduled. */
  nextIn (keys: Iterable<string>): number | undefined {
    let soonest: number | undefined
    for (const key of keys) {
      const at = this.#slots.get(key)?.at
      if (at !== undefined && (soonest === undefined || at < soonest)) soonest = at
    }
    return soonest === undefined ? undefined : soonest - this.#clock.now()
  }

  /** Clears every timer; a check that ends later arms nothing, and `run` does nothing from now on. */
  close (): void {
    this.#closed = true
    for (const slot of this.#slots.values()) this.#disarm(slot)
  }

  #arm (key: string, slot: Slot, plan: Plan): void {
    slot.failures = plan.failing ? slot.failures + 1 : 0
    if (this.#cadence.interval === 0) return
    const delay = delayOf(this.#cadence, plan, slot.failures, this.#random)
    slot.at = this.#clock.now() + delay
    slot.timer = this.#clock.setTimeout(() => { this.run(key) }, delay)
  }

  #disarm (slot: Slot): void {
    if (slot.timer !== undefined) this.#clock.clearTimeout(slot.timer)
    slot.timer = undefined
    slot.at = undefined
  }
}
