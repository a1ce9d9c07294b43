import { bad, got, isObject, own, received } from './option-checks.js'

/**
 * The part of an ioredis-compatible client (ioredis, iovalkey, the client `@fastify/redis` decorates)
 * that fleet mode uses. keyguard never creates, connects or closes it; subscriptions go through one
 * `duplicate()`, which keyguard closes.
 */
export interface FleetClient {
  /** `'ready'`, `'connecting'`, `'end'`…: ioredis's connection status (node-redis clients have none). */
  readonly status: string
  get (key: string): Promise<string | null>
  set (key: string, value: string, unit: 'PX', ms: number): Promise<'OK'>
  set (key: string, value: string, unit: 'PX', ms: number, mode: 'NX'): Promise<'OK' | null>
  publish (channel: string, message: string): Promise<number>
  eval (script: string, keys: number, ...args: Array<string | number>): Promise<unknown>
  ping (): Promise<string>
  duplicate (): FleetSubscriber
}

/** The connection a fleet subscribes with: a `duplicate()` of the application's client. */
export interface FleetSubscriber {
  subscribe (channel: string): Promise<unknown>
  on (event: string, listener: (...args: never[]) => void): unknown
  disconnect (): void
}

/** Fleet mode after resolution. */
export interface ResolvedFleet {
  redis: FleetClient
  namespace: string
}

const METHODS = Object.freeze(['get', 'set', 'publish', 'eval', 'ping', 'duplicate'] as const)
const FIELDS: readonly string[] = Object.freeze(['redis', 'namespace'])
/** A Redis key prefix: no spaces, no glob characters (the bench and tests SCAN `namespace:*`). */
const NAMESPACE = /^[A-Za-z0-9][\w.:-]{0,63}$/
export const CLIENT = "an ioredis-compatible client (ioredis, iovalkey, or @fastify/redis's fastify.redis)"

/** Checks the `fleet` option: `false`, or `{ redis, namespace? }`. */
export function checkFleet (value: unknown, option: string): ResolvedFleet | false {
  if (value === false) return false
  if (!isObject(value)) return bad(option, 'false or an object', received(value))
  const given = own(value)
  for (const field of Object.keys(given)) {
    if (FIELDS.includes(field)) continue
    const found = `unknown field ${got(field)}`
    const expected = FIELDS.join(', ')
    bad(option, `an object of ${expected}`, found, `option "${option}" has an ${found}; expected ${expected}`)
  }
  const redis = given.redis
  if (!isObject(redis)) return bad(`${option}.redis`, CLIENT, received(redis))
  const client = redis as Record<string, unknown>
  const missing = METHODS.filter((method) => typeof client[method] !== 'function')
  if (missing.length > 0 || typeof client.status !== 'string') {
    const what = missing.length > 0 ? `methods ${missing.join(', ')}` : 'the `status` of an ioredis connection'
    bad(`${option}.redis`, CLIENT, `received an object without ${what} (node-redis clients are not supported)`)
  }
  const namespace = given.namespace ?? 'keyguard'
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    bad(`${option}.namespace`, 'a Redis key prefix: a letter or digit, then letters, digits, ".", "_", ":" or "-" ' +
      '(at most 64)', received(namespace))
  }
  return own({ redis: redis as unknown as FleetClient, namespace })
}
