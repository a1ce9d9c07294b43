import { randomBytes, scrypt } from 'node:crypto'
import type { Cause, Verdict } from './causes.js'
import type { Logger } from './log.js'
import type { FleetClient, FleetSubscriber, ResolvedFleet } from './option-fleet.js'
import type { ResolvedKey } from './options.js'
import { PROBE_BACKOFF } from './schedule.js'
import type { Clock } from './schedule.js'

/** How fleet mode talks to Redis. */
export const FLEET = Object.freeze({
  /** Longest wait for one Redis command: ioredis queues commands while it reconnects, and boot must not wait. */
  timeout: 500,
  /** Mean wait between pings while Redis is lost (drawn from half to one and a half of it). */
  retry: 1_000,
  /** Longest life of a shared verdict that does not pass: healing is noticed within it. */
  failing: 30_000,
  /** Life of a passing verdict when `probe.interval` is 0 (no periodic recheck). */
  idle: 600_000,
  /** Version of the entries and messages; another version is foreign and ignored. */
  version: 1,
  /** Longest entry or message read: anything longer is not ours. */
  maxEntry: 2_048
})

/**
 * The digest that names a key in Redis: scrypt (RFC 7914) of the key, salted with a fixed domain, the
 * namespace, and the key's name, provider and base URL. Deliberately costly (about 32 MiB and tens of
 * ms per guess), computed once per key value: a short custom key read from Redis cannot be searched for
 * cheaply. docs/fleet.md states what it protects and what it does not.
 */
export const DIGEST = Object.freeze({
  domain: 'fastify-keyguard/fleet/v1',
  N: 2 ** 15,
  r: 8,
  p: 1,
  bytes: 32,
  maxmem: 64 * 1024 * 1024
})

/** The digest of `key` under `salt` (base64url), computed in libuv's threadpool. */
export function digestOf (key: string, salt: string): Promise<string> {
  const { N, r, p, bytes, maxmem } = DIGEST
  return new Promise((resolve, reject) => {
    scrypt(key, salt, bytes, { N, r, p, maxmem }, (err, out) => {
      /* c8 ignore next -- scrypt fails only when its memory cannot be had; the guard then probes locally */
      if (err !== null) reject(err)
      else resolve(out.toString('base64url'))
    })
  })
}

/** The salt of a key's digest: public parts only; two keys share a verdict only when they agree on all. */
export const saltOf = (namespace: string, spec: Pick<ResolvedKey, 'name' | 'provider' | 'baseUrl'>): string =>
  [DIGEST.domain, namespace, spec.name, spec.provider.id, spec.baseUrl].join('\0')

/** A verdict as it is shared: no key, no fingerprint, no upstream text. */
export interface Shared {
  v: number
  cause: Cause
  reason: string
  /** Wall-clock time of the probe (ms since the epoch). */
  at: number
  /** How long the verdict stays fresh (ms). */
  ttl: number
  /** The replica that probed: a random id per app. */
  by: string
  httpStatus?: number
  latencyMs?: number
  retryAfterMs?: number
  errno?: string
  timeoutMs?: number
}

const CAUSES_SHARED: readonly Cause[] = Object.freeze(['valid', 'rejected', 'forbidden', 'limited', 'unreachable'])
const REASON = /^[\w.-]{1,64}$/
const ID = /^[0-9a-f]{16}$/
const ERRNO = /^[A-Za-z][\w-]{0,39}$/
const DIGEST_TEXT = /^[\w-]{43}$/
const MAX_MS = 2 ** 31 - 1
const OPTIONAL: Readonly<Record<string, (value: unknown) => boolean>> = Object.freeze({
  httpStatus: (value) => whole(value, 100, 599),
  latencyMs: (value) => whole(value, 0, MAX_MS),
  retryAfterMs: (value) => whole(value, 0, MAX_MS),
  timeoutMs: (value) => whole(value, 0, MAX_MS),
  errno: (value) => typeof value === 'string' && ERRNO.test(value)
})

const whole = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max

const record = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/** A shared verdict read from Redis or a message, checked field by field; `undefined` when it is not one. */
export function parseShared (value: unknown): Shared | undefined {
  if (!record(value)) return undefined
  const { v, cause, reason, at, ttl, by } = value
  if (v !== FLEET.version || !CAUSES_SHARED.includes(cause as Cause)) return undefined
  if (typeof reason !== 'string' || !REASON.test(reason) || typeof by !== 'string' || !ID.test(by)) return undefined
  if (!whole(at, 0, Number.MAX_SAFE_INTEGER) || !whole(ttl, 1, MAX_MS)) return undefined
  for (const [field, item] of Object.entries(value)) {
    if (['v', 'cause', 'reason', 'at', 'ttl', 'by'].includes(field)) continue
    const valid = Object.hasOwn(OPTIONAL, field) ? OPTIONAL[field] as (value: unknown) => boolean : undefined
    if (valid === undefined || !valid(item)) return undefined
  }
  return value as unknown as Shared
}

/** JSON text of at most `FLEET.maxEntry` characters, parsed; `undefined` for anything else. */
function parse (text: unknown): unknown {
  if (typeof text !== 'string' || text.length > FLEET.maxEntry) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** What a probe's verdict shares: its cause, reason and numbers, never the text the upstream sent. */
export function sharedOf (verdict: Verdict, ttl: number, by: string): Shared {
  const shared: Shared = { v: FLEET.version, cause: verdict.cause, reason: verdict.reason, at: Date.now(), ttl, by }
  const { httpStatus, latencyMs, retryAfterMs } = verdict
  const { errno, timeoutMs } = verdict.facts ?? {}
  const fields: Record<string, unknown> = { httpStatus, latencyMs, retryAfterMs, errno, timeoutMs }
  for (const [field, value] of Object.entries(fields)) {
    const valid = OPTIONAL[field] as (value: unknown) => boolean
    if (valid(value)) (shared as unknown as Record<string, unknown>)[field] = value
  }
  return shared
}

/** The verdict a replica takes from a shared one: the facts that are its own (the origin) are its own. */
export function verdictOf (shared: Shared, spec: Pick<ResolvedKey, 'baseUrl'>): Verdict {
  const { cause, reason, httpStatus, latencyMs, retryAfterMs, errno, timeoutMs } = shared
  const verdict: Verdict = { cause, reason, facts: { origin: new URL(spec.baseUrl).origin } }
  if (errno !== undefined) (verdict.facts as NonNullable<Verdict['facts']>).errno = errno
  if (timeoutMs !== undefined) (verdict.facts as NonNullable<Verdict['facts']>).timeoutMs = timeoutMs
  if (httpStatus !== undefined) verdict.httpStatus = httpStatus
  if (latencyMs !== undefined) verdict.latencyMs = latencyMs
  if (retryAfterMs !== undefined) verdict.retryAfterMs = retryAfterMs
  return verdict
}

/** Deletes the lease only if this replica still holds it (it may have expired and been taken). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

const FAILED = Symbol('failed')
type Probe = (key: string) => Promise<Verdict>
type Failed = typeof FAILED

/** What a fleet needs from its guard. */
export interface FleetParts {
  log: Logger
  clock: Clock
  random: () => number
  /** The probe settings (for the lease: one probe's longest run) and the recheck interval (for freshness). */
  probe: { timeout: number, retries: number, interval: number } | false
  /** A shared verdict for this key arrived: the guard checks it again, and finds the verdict fresh. */
  onVerdict: (name: string) => void
}

/**
 * Fleet mode (issue 14): replicas holding the same key value share its verdict through Redis. One holds
 * a short lease and probes; the others read its verdict, or wait for it on pub/sub within the probe's
 * deadline. Every Redis command is bounded by `FLEET.timeout`; when Redis is lost the replica probes on
 * its own until a ping answers again. Framework-free: the guard asks, the fleet answers.
 */
export class Fleet {
  readonly #redis: FleetClient
  readonly #namespace: string
  readonly #channel: string
  readonly #parts: FleetParts
  /** This app's id in shared verdicts: its own messages are not news to it. */
  readonly #id = randomBytes(8).toString('hex')
  #sub: FleetSubscriber | undefined
  #subscribed = false
  #subscribing: Promise<void> | undefined
  #lost = false
  #closed = false
  #retry: unknown
  /** Per key name: the digests of its last two values (a rotation probes both). */
  readonly #digests = new Map<string, Array<{ key: string, digest: Promise<string> }>>()
  /** Per digest: the key names that currently hold it. */
  readonly #names = new Map<string, Set<string>>()
  readonly #current = new Map<string, string>()
  /** Verdicts heard on pub/sub or shared by this app, fresh until `until` (clock time). */
  readonly #memory = new Map<string, { shared: Shared, until: number }>()
  readonly #waiters = new Map<string, Set<(shared: Shared | undefined) => void>>()
  /** Leases held now: Redis key → token. */
  readonly #leases = new Map<string, string>()
  /** Keys whose next check confirms an upstream 401: no shared verdict is trusted for it. */
  readonly #forced = new Set<string>()
  /** Where a malformed entry was logged already. */
  readonly #ignored = new Set<string>()

  constructor (settings: ResolvedFleet, parts: FleetParts) {
    this.#redis = settings.redis
    this.#namespace = settings.namespace
    this.#channel = `${settings.namespace}:verdicts`
    this.#parts = parts
  }

  /** Subscribes to the namespace's verdicts, waiting at most `FLEET.timeout`. Never rejects. */
  async start (): Promise<void> {
    try {
      const sub = this.#redis.duplicate()
      this.#sub = sub
      sub.on('message', (channel: string, text: string) => { this.#message(channel, text) })
      // Connection errors are told by 'close' and by failed commands; a listener keeps ioredis from printing them.
      sub.on('error', () => {})
      sub.on('close', () => { this.#lose('the subscription closed') })
    } catch {
      this.#lose('redis.duplicate() threw')
      return
    }
    await this.#subscribe()
  }

  /** The next check of `name` confirms an upstream 401: it probes (one replica of the fleet does). */
  suspect (name: string): void {
    this.#forced.add(name)
  }

  /**
   * The verdict for `key`: a fresh shared one, or the one this replica's probe gives when it holds the
   * lease (shared with the fleet), or the one the lease holder shares within the probe's deadline, or,
   * failing all of these, a local probe. Never rejects more than `probe` does.
   */
  async send (spec: ResolvedKey, key: string, probe: Probe, deadline?: number): Promise<Verdict> {
    const forced = this.#forced.delete(spec.name)
    // At boot, the fleet's turn ends in time for one local attempt before the deadline.
    const { timeout } = this.#parts.probe as { timeout: number }
    const left = (): number => deadline === undefined ? Infinity : deadline - timeout - this.#parts.clock.now()
    const digest = this.#closed ? undefined : await this.#within(this.#digest(spec, key), left())
    // Late (a starved CPU at boot), closed, or scrypt without its memory: this replica probes on its own.
    if (digest === undefined || this.#closed) return probe(key)
    this.#track(spec.name, digest)
    const heard = this.#listen(digest)
    try {
      if (!forced) {
        const known = this.#fresh(digest) ?? await this.#read(digest)
        if (known !== undefined) return verdictOf(known, spec)
      }
      if (this.#lost || left() <= 0) return await probe(key)
      const ms = this.#budget(deadline)
      const token = await this.#lease(digest, ms)
      if (token === FAILED) return await probe(key)
      if (token !== undefined) return await this.#probe(digest, key, probe, token)
      const heardOf = await heard.wait(Math.max(0, Math.min(ms, left())))
      const shared = heardOf ?? (forced ? undefined : await this.#read(digest))
      if (shared !== undefined) return verdictOf(shared, spec)
      return await this.#probe(digest, key, probe, undefined)
    } finally {
      heard.cancel()
    }
  }

  /** Releases every lease held, closes the subscription (keyguard's own duplicate), stops every timer. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#parts.clock.clearTimeout(this.#retry)
    for (const waiters of this.#waiters.values()) for (const resolve of waiters) resolve(undefined)
    this.#waiters.clear()
    const leases = [...this.#leases]
    this.#leases.clear()
    if (!this.#lost) {
      const release = ([lease, token]: [string, string]): Promise<unknown> =>
        this.#call(() => this.#redis.eval(RELEASE, 1, lease, token), true)
      await Promise.all(leases.map(release))
    }
    this.#sub?.disconnect()
    this.#memory.clear()
    this.#digests.clear()
  }

  #digest (spec: ResolvedKey, key: string): Promise<string> {
    const known = this.#digests.get(spec.name) ?? []
    const found = known.find((item) => item.key === key)
    if (found !== undefined) return found.digest
    const digest = digestOf(key, saltOf(this.#namespace, spec))
    this.#digests.set(spec.name, [{ key, digest }, ...known].slice(0, 2))
    return digest
  }

  /** What `promise` gives within `ms`, or `undefined` (a rejection too); it runs on, and its digest is cached. */
  async #within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
    const settled = promise.catch(() => undefined)
    return ms === Infinity ? settled : this.#race(settled, ms, undefined)
  }

  /**
   * What `promise` gives within `ms`, or `late`. The timer gives up one turn of the event loop after it is
   * due: a process starved of CPU wakes with the timer due and the answer unread, and must read it first.
   */
  async #race<T, L> (promise: Promise<T>, ms: number, late: L): Promise<T | L> {
    let timer: unknown
    const expired = new Promise<L>((resolve) => {
      timer = this.#parts.clock.setTimeout(() => setImmediate(resolve, late), ms)
    })
    const out = await Promise.race([promise, expired])
    this.#parts.clock.clearTimeout(timer)
    return out
  }

  /** The Redis key of a digest's verdict entry or lease. */
  #entry (kind: 'verdict' | 'lease', digest: string): string {
    return `${this.#namespace}:${kind}:${digest}`
  }

  #track (name: string, digest: string): void {
    const previous = this.#current.get(name)
    if (previous === digest) return
    if (previous !== undefined) {
      const names = this.#names.get(previous) as Set<string>
      names.delete(name)
      if (names.size === 0) {
        this.#names.delete(previous)
        this.#memory.delete(previous)
      }
    }
    this.#current.set(name, digest)
    this.#names.set(digest, (this.#names.get(digest) ?? new Set()).add(name))
  }

  #fresh (digest: string): Shared | undefined {
    const known = this.#memory.get(digest)
    return known !== undefined && known.until > this.#parts.clock.now() ? known.shared : undefined
  }

  async #read (digest: string): Promise<Shared | undefined> {
    if (this.#lost) return undefined
    const text = await this.#call(() => this.#redis.get(this.#entry('verdict', digest)))
    if (text === FAILED || text === null) return undefined
    const shared = parseShared(parse(text))
    if (shared === undefined) this.#ignore(`${this.#namespace}:verdict:${digest.slice(0, 8)}…`)
    return shared
  }

  /** The lease's token when this replica got it, `undefined` when another holds it. */
  async #lease (digest: string, ms: number): Promise<string | undefined | Failed> {
    const lease = this.#entry('lease', digest)
    const token = `${this.#id}.${randomBytes(4).toString('hex')}`
    const got = await this.#call(() => this.#redis.set(lease, token, 'PX', ms, 'NX'))
    if (got === FAILED) return FAILED
    if (got === null) return undefined
    this.#leases.set(lease, token)
    return token
  }

  async #probe (digest: string, key: string, probe: Probe, token?: string): Promise<Verdict> {
    try {
      const verdict = await probe(key)
      if (verdict.reason !== 'aborted' && !this.#closed) await this.#share(digest, verdict)
      return verdict
    } finally {
      if (token !== undefined) await this.#release(digest, token)
    }
  }

  async #share (digest: string, verdict: Verdict): Promise<void> {
    const ttl = this.#ttl(verdict.cause)
    const shared = sharedOf(verdict, ttl, this.#id)
    this.#memory.set(digest, { shared, until: this.#parts.clock.now() + ttl })
    if (this.#lost) return
    const text = JSON.stringify(shared)
    const stored = await this.#call(() => this.#redis.set(this.#entry('verdict', digest), text, 'PX', ttl))
    if (stored === FAILED) return
    const message = JSON.stringify({ v: FLEET.version, d: digest, e: shared })
    await this.#call(() => this.#redis.publish(this.#channel, message))
  }

  async #release (digest: string, token: string): Promise<void> {
    const lease = this.#entry('lease', digest)
    if (this.#leases.get(lease) !== token) return
    this.#leases.delete(lease)
    if (!this.#lost) await this.#call(() => this.#redis.eval(RELEASE, 1, lease, token))
  }

  /** The longest one probe of this replica may take: the lease lives that long, and waiters wait that long. */
  #budget (deadline: number | undefined): number {
    const { timeout, retries } = this.#parts.probe as { timeout: number, retries: number }
    const budget = timeout * (retries + 1) + PROBE_BACKOFF.cap * retries
    const left = deadline === undefined ? budget : Math.floor(deadline - this.#parts.clock.now())
    return Math.max(1, Math.min(budget, left))
  }

  /** How long a verdict stays fresh: the recheck interval when it passes, at most `FLEET.failing` otherwise. */
  #ttl (cause: Cause): number {
    const { interval } = this.#parts.probe as { interval: number }
    const ttl = interval > 0 ? interval : FLEET.idle
    return cause === 'valid' ? ttl : Math.min(ttl, FLEET.failing)
  }

  #listen (digest: string): { wait: (ms: number) => Promise<Shared | undefined>, cancel: () => void } {
    let resolve!: (shared: Shared | undefined) => void
    let timer: unknown
    const heard = new Promise<Shared | undefined>((_resolve) => { resolve = _resolve })
    const waiters = this.#waiters.get(digest) ?? new Set()
    this.#waiters.set(digest, waiters.add(resolve))
    const cancel = (): void => {
      this.#parts.clock.clearTimeout(timer)
      waiters.delete(resolve)
      if (waiters.size === 0 && this.#waiters.get(digest) === waiters) this.#waiters.delete(digest)
      resolve(undefined)
    }
    // Losing Redis and closing resolve every waiter: a wait that starts after either ends at once.
    const wait = (ms: number): Promise<Shared | undefined> => {
      timer = this.#parts.clock.setTimeout(() => setImmediate(cancel), ms)
      return heard
    }
    return { wait, cancel }
  }

  #message (channel: string, text: string): void {
    if (this.#closed || channel !== this.#channel) return
    const message = parse(text)
    const shared = record(message) && message.v === FLEET.version && typeof message.d === 'string' &&
      DIGEST_TEXT.test(message.d) && Object.keys(message).length === 3
      ? parseShared(message.e)
      : undefined
    if (shared === undefined) {
      this.#ignore(`the channel ${this.#channel}`)
      return
    }
    const digest = (message as { d: string }).d
    const names = this.#names.get(digest)
    if (shared.by === this.#id || names === undefined) return
    this.#memory.set(digest, { shared, until: this.#parts.clock.now() + shared.ttl })
    for (const resolve of this.#waiters.get(digest) ?? []) resolve(shared)
    for (const name of names) this.#parts.onVerdict(name)
  }

  #ignore (where: string): void {
    if (this.#ignored.has(where)) return
    this.#ignored.add(where)
    this.#parts.log.warn({ keyguard: { fleet: this.#namespace } },
      `fastify-keyguard: fleet: ignored a malformed or foreign entry at ${where}; it is not trusted`)
  }

  async #subscribe (): Promise<void> {
    const sub = this.#sub as FleetSubscriber
    this.#subscribing ??= this.#call(() => sub.subscribe(this.#channel)).then((out) => {
      this.#subscribing = undefined
      if (out !== FAILED) this.#subscribed = true
    })
    return this.#subscribing
  }

  /** Runs one Redis command, at most `FLEET.timeout`; a failure or a timeout means Redis is lost. */
  async #call<T> (command: () => Promise<T>, closing = false): Promise<T | Failed> {
    if (this.#closed && !closing) return FAILED
    let reason = 'a command timed out'
    const done = Promise.resolve().then(command).catch((err: unknown): Failed => {
      reason = `a command failed (${(err as Error)?.message ?? typeof err})`
      return FAILED
    })
    const out = await this.#race(done, FLEET.timeout, FAILED)
    if (out === FAILED) this.#lose(reason)
    else this.#regain()
    return out
  }

  #lose (reason: string): void {
    if (this.#lost || this.#closed) return
    this.#lost = true
    this.#subscribed = false
    const keyguard = { fleet: this.#namespace, reason }
    this.#parts.log.warn({ keyguard }, 'fastify-keyguard: fleet: lost redis, probing locally')
    for (const waiters of this.#waiters.values()) for (const resolve of waiters) resolve(undefined)
    this.#ping()
  }

  #regain (): void {
    if (!this.#lost) return
    this.#lost = false
    this.#parts.log.info({ keyguard: { fleet: this.#namespace } }, 'fastify-keyguard: fleet: redis back')
    this.#parts.clock.clearTimeout(this.#retry)
    if (!this.#subscribed && this.#sub !== undefined) this.#subscribe()
  }

  #ping (): void {
    const delay = FLEET.retry * (0.5 + this.#parts.random())
    this.#retry = this.#parts.clock.setTimeout(() => {
      this.#call(() => this.#redis.ping()).then(() => { if (this.#lost && !this.#closed) this.#ping() })
    }, delay)
  }
}
