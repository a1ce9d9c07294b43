import type { Clock } from '../../lib/core/schedule.js'

/**
 * A clock the test moves by hand, for the schedule's injected `clock`: nothing sleeps, and every delay
 * the schedule asks for can be read exactly. Time starts at 0 and moves only by `next` and `advance`.
 */
export class FakeClock implements Clock {
  #now = 0
  #id = 0
  readonly #timers = new Map<number, { at: number, fn: () => void }>()

  now = (): number => this.#now

  setTimeout = (fn: () => void, ms: number): number => {
    const id = ++this.#id
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn })
    return id
  }

  clearTimeout = (timer: unknown): void => {
    this.#timers.delete(timer as number)
  }

  /** The delays of the armed timers from now, soonest first. */
  pending (): number[] {
    return [...this.#timers.values()].map((timer) => timer.at - this.#now).sort((a, b) => a - b)
  }

  /** Moves to the soonest timer and fires it; returns how far time moved, `undefined` when none is armed. */
  next (): number | undefined {
    let soonest: [number, { at: number, fn: () => void }] | undefined
    for (const entry of this.#timers) if (soonest === undefined || entry[1].at < soonest[1].at) soonest = entry
    if (soonest === undefined) return undefined
    const [id, { at, fn }] = soonest
    const moved = at - this.#now
    this.#timers.delete(id)
    this.#now = at
    fn()
    return moved
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, in order. */
  advance (ms: number): void {
    const end = this.#now + ms
    while (this.pending().some((delay) => this.#now + delay <= end)) this.next()
    this.#now = end
  }
}

/** Lets every settled promise's callbacks run (a check that resolved arms its next timer). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
