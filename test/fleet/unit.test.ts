// Issue 14: the fleet's rules one by one, with a hostile stand-in client beside the real-server tests
// (which are the evidence): a client that throws, rejects, hangs, or loses its subscription mid-probe.
import t, { test } from 'tap'
import { Fleet, FLEET, parseShared, sharedOf, verdictOf } from '../../lib/core/fleet.js'
import type { FleetClient, FleetSubscriber } from '../../lib/core/option-fleet.js'
import type { Verdict } from '../../lib/core/causes.js'
import type { ResolvedKey } from '../../lib/core/options.js'
import { providers } from '../../lib/providers/index.js'
import { REAL_CLOCK } from '../../lib/core/schedule.js'

const spec = { name: 'fireworks', provider: providers.fireworks, env: 'FIREWORKS_API_KEY', baseUrl: 'http://127.0.0.1:9', required: true, probe: true } as ResolvedKey
// The fleet's timers are unref'd (as a server's would be kept alive by its sockets): keep this process up.
const alive = setInterval(() => {}, 1_000)
t.teardown(() => clearInterval(alive))

const VALID: Verdict = { cause: 'valid', reason: 'ok', httpStatus: 200, latencyMs: 3 }

interface Fake {
  client: FleetClient
  listeners: Map<string, (...args: unknown[]) => void>
  calls: string[]
}

/** A client whose every command does what `answer` says (a value, a rejection, or never answering). */
function fake (answer: (command: string, args: unknown[]) => unknown, duplicate?: () => FleetSubscriber): Fake {
  const listeners = new Map<string, (...args: unknown[]) => void>()
  const calls: string[] = []
  const run = (command: string) => async (...args: unknown[]): Promise<never> => {
    calls.push(command)
    return await (answer(command, args) as Promise<never>)
  }
  const sub: FleetSubscriber = {
    subscribe: async () => 1,
    on: (event, listener) => listeners.set(event, listener as (...args: unknown[]) => void),
    disconnect: () => {}
  }
  const client = {
    status: 'ready',
    get: run('get'),
    set: run('set'),
    publish: run('publish'),
    eval: run('eval'),
    ping: run('ping'),
    duplicate: duplicate ?? (() => sub)
  } as unknown as FleetClient
  return { client, listeners, calls }
}

function fleetOf (client: FleetClient, probe = { timeout: 50, retries: 0, interval: 0 }): { fleet: Fleet, logs: string[] } {
  const logs: string[] = []
  const log = { info: (_: object, msg: string) => logs.push(msg), warn: (_: object, msg: string) => logs.push(msg), error: () => {} }
  const fleet = new Fleet({ redis: client, namespace: 'unit' }, { log, clock: REAL_CLOCK, random: () => 0.5, probe, onVerdict: () => {} })
  return { fleet, logs }
}

test('shared verdicts carry numbers and codes only, and come back as verdicts', async (t) => {
  const verdict: Verdict = { cause: 'unreachable', reason: 'timeout', facts: { origin: 'https://x', errno: 'ETIMEDOUT', timeoutMs: 50, contentType: 'text/html' }, retryAfterMs: 1000 }
  const shared = sharedOf(verdict, 1000, '0123456789abcdef')
  t.notOk('contentType' in shared || 'origin' in shared, 'no upstream text, no origin')
  t.same(parseShared(JSON.parse(JSON.stringify(shared))), shared)
  t.same(verdictOf(shared, spec), { cause: 'unreachable', reason: 'timeout', facts: { origin: 'http://127.0.0.1:9', errno: 'ETIMEDOUT', timeoutMs: 50 }, retryAfterMs: 1000 })
  t.equal(parseShared({ ...shared, errno: 'not an errno!' }), undefined)
})

test('a duplicate() that throws: Redis is lost, the replica probes locally', async (t) => {
  const { client } = fake(() => null, () => { throw new Error('no') })
  const { fleet, logs } = fleetOf(client)
  await fleet.start()
  t.same(await fleet.send(spec, 'k'.repeat(20), async () => VALID), VALID)
  t.equal(logs[0], 'fastify-keyguard: fleet: lost redis, probing locally')
  await fleet.close()
  await fleet.close()
  t.same(await fleet.send(spec, 'k'.repeat(20), async () => VALID), VALID, 'after close: a local probe')
})

test('a command that rejects (an Error or not) is a lost Redis; the next ping that answers brings it back', async (t) => {
  for (const reason of [new Error('ECONNRESET'), 'not an error']) {
    let fail: unknown = reason
    const { client } = fake((command) => fail === undefined ? (command === 'set' ? 'OK' : null) : Promise.reject(fail))
    const { fleet, logs } = fleetOf(client)
    await fleet.start()
    t.same(await fleet.send(spec, 'k'.repeat(20), async () => VALID), VALID)
    t.same(logs, ['fastify-keyguard: fleet: lost redis, probing locally'])
    fail = undefined
    await new Promise((resolve) => setTimeout(resolve, FLEET.retry * 1.5 + 100))
    t.same(logs.slice(1), ['fastify-keyguard: fleet: redis back'])
    await fleet.close()
  }
})

test('another replica holds the lease and shares nothing: after the probe budget, a local probe, shared', async (t) => {
  const { client, calls } = fake((command, args) => command === 'set' && args.includes('NX') ? null : command === 'get' ? null : 'OK')
  const { fleet } = fleetOf(client)
  await fleet.start()
  let probes = 0
  t.same(await fleet.send(spec, 'k'.repeat(20), async () => { probes++; return VALID }), VALID)
  t.equal(probes, 1)
  t.same(calls, ['get', 'set', 'get', 'set', 'publish'], 'read, lease refused, read again, then store and publish')
  // A rotated value has its own digest; the old one is forgotten.
  t.same(await fleet.send(spec, 'j'.repeat(20), async () => VALID), VALID)
  await fleet.close()
})

test('a confirming check waits for the lease holder, then probes itself: no stored verdict is trusted', async (t) => {
  const { client, calls } = fake((command, args) => command === 'set' && args.includes('NX') ? null : 'OK')
  const { fleet } = fleetOf(client)
  await fleet.start()
  fleet.suspect('fireworks')
  let probes = 0
  t.same(await fleet.send(spec, 'k'.repeat(20), async () => { probes++; return VALID }), VALID)
  t.equal(probes, 1)
  t.same(calls, ['set', 'set', 'publish'], 'no read at all')
  await fleet.close()
})

test('the verdict store fails after the lease was had: nothing is published, the lease is released', async (t) => {
  const { client, calls } = fake((command, args) => command === 'get' ? null : command === 'set' && !args.includes('NX') ? Promise.reject(new Error('OOM')) : 'OK')
  const { fleet } = fleetOf(client)
  await fleet.start()
  t.same(await fleet.send(spec, 'k'.repeat(20), async () => VALID), VALID)
  t.same(calls, ['get', 'set', 'set'], 'no publish, and no release while Redis is lost')
  await fleet.close()
})

test('the subscription closes during a probe: the verdict stays local, waiters stop waiting', async (t) => {
  const { client, listeners, calls } = fake((command) => command === 'get' ? null : 'OK')
  const { fleet } = fleetOf(client)
  await fleet.start()
  listeners.get('message')?.('another:channel', '{}')
  const verdict = await fleet.send(spec, 'k'.repeat(20), async () => {
    listeners.get('close')?.()
    return VALID
  })
  t.same(verdict, VALID)
  t.same(calls, ['get', 'set'], 'nothing stored or released once Redis is lost')
  let probed = false
  t.match(await fleet.send(spec, 'k'.repeat(20), async () => { probed = true; return VALID }), { cause: 'valid' })
  t.notOk(probed, 'the local verdict is fresh in memory')
  await fleet.close()
})

test('closing during a probe: the lease is released once, by close(); a read in flight ends the send locally', async (t) => {
  let hold: (() => void) | undefined
  const { client, calls } = fake((command) => command === 'get' ? new Promise((resolve) => { hold = () => resolve(null) }) : 'OK')
  const { fleet } = fleetOf(client)
  await fleet.start()
  const sent = fleet.send(spec, 'k'.repeat(20), async () => VALID)
  while (calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const closing = fleet.close()
  hold?.()
  t.same(await sent, VALID)
  await closing
  t.same(calls, ['get'], `nothing after close (${calls.join(', ')})`)
})

test('a lease held at close is released by close()', async (t) => {
  const { client, calls } = fake((command) => command === 'get' ? null : 'OK')
  const { fleet } = fleetOf(client, { timeout: 5_000, retries: 0, interval: 0 })
  await fleet.start()
  let closing: Promise<void> | undefined
  await fleet.send(spec, 'k'.repeat(20), async () => {
    closing = fleet.close()
    return { cause: 'unreachable', reason: 'aborted' }
  })
  await closing
  t.same(calls, ['get', 'set', 'eval'])
})

test('at boot, the fleet gives way in time for one local attempt before the deadline', async (t) => {
  const { client, calls } = fake((command) => command === 'get' ? null : 'OK')
  const { fleet } = fleetOf(client)
  await fleet.start()
  let probes = 0
  const local = async (): Promise<Verdict> => { probes++; return VALID }
  // The digest is not ready before the deadline leaves one attempt: no Redis at all.
  t.same(await fleet.send(spec, 'q'.repeat(20), local, performance.now() + 10), VALID)
  t.same(calls, [])
  // The digest is cached now, but the deadline is as near: a read, then a local probe, no lease.
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(await fleet.send(spec, 'q'.repeat(20), local, performance.now() + 10), VALID)
  t.same(calls, ['get'])
  t.equal(probes, 2)
  await fleet.close()
})
