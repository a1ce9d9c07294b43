// The schedule on an injected fake clock: every delay it asks for is read exactly, and nothing sleeps.
import fc from 'fast-check'
import { test } from 'tap'
import {
  backoff, BACKOFF, CONCURRENCY, delayOf, PROBE_BACKOFF, REAL_CLOCK, Schedule, sleep
} from '../lib/core/schedule.js'
import type { Cadence, Plan } from '../lib/core/schedule.js'
import { FakeClock, flush } from './helpers/clock.js'

const ALMOST_ONE = 1 - Number.EPSILON

/** A schedule over a fake clock whose checks answer `plan()` and are counted. */
function scheduled (
  plan: () => Plan | undefined, cadence: Cadence | false = { interval: 600_000, jitter: 0.2 }, random = () => 0.5
) {
  const clock = new FakeClock()
  const calls: Array<{ key: string, deadline: number | undefined }> = []
  const schedule = new Schedule(async (key, deadline) => {
    calls.push({ key, deadline })
    return plan()
  }, cadence, clock, random)
  return { clock, calls, schedule }
}

test('backoff: full jitter up to base·2ⁿ, never above the cap, never below the floor', async (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: ALMOST_ONE, noNaN: true }),
    fc.constantFrom(BACKOFF, PROBE_BACKOFF, { base: 1_000, cap: 50, floor: 100 }),
    (n, r, policy) => {
      const wait = backoff(n, policy, () => r)
      const ceiling = Math.min(policy.cap, policy.base * 2 ** n)
      const floor = Math.min(policy.floor, policy.cap)
      return wait === Math.max(floor, r * ceiling) && wait >= floor && wait <= Math.max(floor, ceiling)
    }))
  t.equal(backoff(0, BACKOFF, () => 0), BACKOFF.floor, 'the floor: a failing key never spins')
  t.equal(backoff(0, PROBE_BACKOFF, () => 0), 0, 'the probe has no floor')
  t.same([0, 1, 2, 3].map((n) => backoff(n, BACKOFF, () => 0.5)), [500, 1_000, 2_000, 4_000], 'doubles')
  t.equal(backoff(40, BACKOFF, () => ALMOST_ONE), BACKOFF.cap * ALMOST_ONE, 'capped')
})

test('delayOf: the interval ± jitter while passing; Retry-After is a lower bound either way', async (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 86_400_000 }), fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double({ min: 0, max: ALMOST_ONE, noNaN: true }),
    (interval, jitter, r) => {
      const delay = delayOf({ interval, jitter }, { failing: false }, 0, () => r)
      return delay >= interval * (1 - jitter) && delay <= interval * (1 + jitter)
    }))
  const cadence = { interval: 600_000, jitter: 0.2 }
  t.equal(delayOf(cadence, { failing: false }, 0, () => 0), 480_000)
  t.equal(delayOf(cadence, { failing: false }, 0, () => 0.5), 600_000)
  t.equal(delayOf(cadence, { failing: false, retryAfterMs: 900_000 }, 0, () => 0.5), 900_000)
  t.equal(delayOf(cadence, { failing: true, retryAfterMs: 30_000 }, 1, () => 0.5), 30_000, 'not sooner than asked')
  t.equal(delayOf(cadence, { failing: true }, 3, () => 0.5), 2_000, 'the third failure in a row: up to 4 s')
  t.equal(delayOf({ interval: 6_000, jitter: 0 }, { failing: true }, 9, () => ALMOST_ONE), 6_000 * ALMOST_ONE,
    'backoff capped at a shorter interval')
  t.equal(delayOf({ interval: 60, jitter: 0 }, { failing: true }, 1, () => 0), 60, 'the floor capped likewise')
  t.equal(delayOf({ interval: 60, jitter: 0 }, { failing: true }, 9, () => ALMOST_ONE), 60, 'an interval under the floor')
})

test('a passing key is rechecked on the interval with jitter; a failing one backs off to the cap, then heals', async (t) => {
  let failing = false
  const random = { value: ALMOST_ONE }
  const { clock, calls, schedule } = scheduled(() => ({ failing }), { interval: 600_000, jitter: 0.2 }, () => random.value)
  await schedule.run('k')
  t.same(clock.pending(), [600_000 * (1 + 0.2 * (2 * ALMOST_ONE - 1))], 'one timer, at the top of the jitter')
  t.equal(schedule.nextIn(['k']), clock.pending()[0])
  random.value = 0
  clock.next()
  await flush()
  t.equal(calls.length, 2, 'the timer ran the check')
  t.same(clock.pending(), [480_000], 'the bottom of the jitter')
  failing = true
  random.value = ALMOST_ONE
  const delays: number[] = []
  for (let i = 0; i < 12; i++) {
    clock.next()
    await flush()
    delays.push(Math.round(clock.pending()[0] as number))
  }
  t.same(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000],
    'doubles from 1 s, capped at 5 min')
  failing = false
  clock.next()
  await flush()
  t.same(clock.pending().map(Math.round), [720_000], 'healed: back on the interval')
  failing = true
  clock.next()
  await flush()
  t.same(clock.pending().map(Math.round), [1_000], 'the failure count started again')
  t.equal(calls.length, 2 + 12 + 2)
  t.ok(calls.every((call) => call.deadline === undefined), 'a timer check has no boot deadline')
})

test('the floor: with random() = 0 a failing key waits 100 ms, never 0', async (t) => {
  const { clock, schedule } = scheduled(() => ({ failing: true }), undefined, () => 0)
  await schedule.run('k')
  t.same(clock.pending(), [BACKOFF.floor])
})

test('Retry-After is respected: no check before it, though backoff and interval are shorter', async (t) => {
  const { clock, calls, schedule } = scheduled(() => ({ failing: true, retryAfterMs: 120_000 }), { interval: 30, jitter: 0 })
  await schedule.run('k')
  t.same(clock.pending(), [120_000])
  clock.advance(119_999)
  await flush()
  t.equal(calls.length, 1, 'nothing before it')
  clock.advance(1)
  await flush()
  t.equal(calls.length, 2, 'rechecked when it ends')
})

test('singleflight: concurrent runs of one key join one check; the timer is dropped while it runs', async (t) => {
  let release = (): void => {}
  const clock = new FakeClock()
  let calls = 0
  const schedule = new Schedule(async () => {
    calls++
    await new Promise<void>((resolve) => { release = resolve })
    return { failing: false }
  }, { interval: 1_000, jitter: 0 }, clock)
  const runs = Array.from({ length: 20 }, () => schedule.run('k'))
  t.equal(calls, 1, 'twenty callers, one check')
  t.ok(runs.every((run) => run === runs[0]), 'every caller gets the same promise')
  t.ok(schedule.running('k'))
  t.notOk(schedule.running('other'))
  release()
  await runs[0]
  t.notOk(schedule.running('k'))
  t.same(clock.pending(), [1_000])
  const again = schedule.run('k')
  t.same(clock.pending(), [], 'a run drops the pending timer: never two checks of one key')
  release()
  await again
  t.same(clock.pending(), [1_000])
})

test('close() clears every timer; a check that ends later arms nothing; no run after it', async (t) => {
  let release = (): void => {}
  let calls = 0
  const clock = new FakeClock()
  const schedule = new Schedule(async (key) => {
    calls++
    if (key === 'slow') await new Promise<void>((resolve) => { release = resolve })
    return { failing: key === 'bad' }
  }, { interval: 1_000, jitter: 0.2 }, clock)
  await schedule.run('a')
  await schedule.run('b')
  await schedule.run('bad')
  const slow = schedule.run('slow')
  t.equal(clock.pending().length, 3)
  schedule.close()
  t.same(clock.pending(), [], 'every timer cleared')
  t.equal(schedule.nextIn(['a', 'b', 'bad', 'slow']), undefined, 'no check scheduled')
  release()
  await slow
  t.same(clock.pending(), [], 'the check that ended after close armed nothing')
  await schedule.run('a')
  t.equal(calls, 4, 'run() after close checks nothing')
})

test('no timer without an interval; an aborted check arms nothing; nextIn is the soonest of the keys', async (t) => {
  for (const cadence of [{ interval: 0, jitter: 0.2 }, false as const]) {
    const { clock, calls, schedule } = scheduled(() => ({ failing: true }), cadence)
    await schedule.run('k')
    t.same(clock.pending(), [], `no timer with ${JSON.stringify(cadence)}`)
    t.equal(calls.length, 1)
  }
  const aborted = scheduled(() => undefined)
  await aborted.schedule.run('k')
  t.same(aborted.clock.pending(), [], 'an aborted check (undefined plan) arms nothing')
  let n = 0
  const { clock, schedule } = scheduled(() => ({ failing: false }), { interval: 1_000, jitter: 0 })
  const spaced = new Schedule(async () => ({ failing: false, retryAfterMs: 5_000 * ++n }), { interval: 1_000, jitter: 0 }, clock)
  await spaced.run('x')
  await spaced.run('y')
  t.equal(spaced.nextIn(['x', 'y']), 5_000)
  t.equal(spaced.nextIn(['y']), 10_000)
  t.equal(spaced.nextIn(['nope']), undefined)
  clock.advance(1_000)
  t.equal(spaced.nextIn(['y', 'x']), 4_000, 'measured on the clock')
  await schedule.run('z')
  t.equal(schedule.nextIn([]), undefined)
})

test(`runAll checks every key, at most ${CONCURRENCY} at a time, each with the boot deadline`, async (t) => {
  let running = 0
  let peak = 0
  const seen: Array<number | undefined> = []
  const schedule = new Schedule(async (_key, deadline) => {
    seen.push(deadline)
    peak = Math.max(peak, ++running)
    await flush()
    running--
    return { failing: false }
  }, { interval: 0, jitter: 0 }, new FakeClock())
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
  await schedule.runAll(keys, 1234)
  t.equal(seen.length, 100)
  t.equal(peak, CONCURRENCY)
  t.ok(seen.every((deadline) => deadline === 1234))
  await schedule.runAll([], 1)
})

test('the real clock: monotonic, and its timers never keep the process alive', async (t) => {
  const before = REAL_CLOCK.now()
  const timer = REAL_CLOCK.setTimeout(() => t.fail('cleared'), 5) as NodeJS.Timeout
  t.equal(timer.hasRef(), false, 'unref\'d')
  REAL_CLOCK.clearTimeout(timer)
  let fired = false
  REAL_CLOCK.setTimeout(() => { fired = true }, 5)
  await sleep(30, new AbortController().signal)
  t.ok(fired, 'a real timer fires')
  t.ok(REAL_CLOCK.now() - before >= 25, 'sleep waited on the real clock')
  const controller = new AbortController()
  const pending = sleep(5_000, controller.signal)
  controller.abort()
  await pending
  t.ok(REAL_CLOCK.now() - before < 1_000, 'an abort ends the sleep at once, and it does not reject')
})
