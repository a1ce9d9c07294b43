import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import keyguard from '../../index.js'
import type { FastifyKeyguardOptions } from '../../index.js'
import { logs } from './app.js'
import type { Logs } from './app.js'
import type { RedisServer } from './redis.js'
import type { Stub } from './stub.js'

/** The fireworks probe path and its OpenAI-compatible chat base, on the stand-in. */
export const PROBE_PATH = '/v1/accounts/fireworks/models'
export const CHAT = '/inference/v1/chat/completions'

export interface Replica {
  app: FastifyInstance
  logs: Logs
}

export interface FleetOf {
  stub: Stub
  redis: RedisServer
  key: string
  /** Fewer than all replicas: the apps that took part. */
  count: number
  interval?: number
  namespace?: string
  /** `false`: the same apps without fleet mode (the control). */
  fleet?: boolean
  extra?: Partial<FastifyKeyguardOptions>
}

/**
 * `count` apps guarding the same key against one stand-in, each with its own Redis client (as separate
 * replicas have), a `/chat` route calling the provider through `keyguard.fetch`, and closed with the test.
 */
export async function replicas (t: Test, options: FleetOf): Promise<Replica[]> {
  const { stub, redis, key, count, interval = 0, namespace = 'keyguard', fleet = true } = options
  const out: Replica[] = []
  for (let i = 0; i < count; i++) {
    const captured = logs()
    const app = Fastify({ logger: { level: 'info', stream: captured.stream } })
    t.teardown(() => app.close())
    const client = redis.client(t)
    await app.register(keyguard, {
      keys: [{ name: 'fireworks', value: key, baseUrl: stub.url }],
      env: {},
      probe: { interval, retries: 0, timeout: 2_000, jitter: 0.2 },
      ...(fleet ? { fleet: { redis: client, namespace } } : {}),
      ...options.extra
    })
    app.post('/chat', async (request, reply) => {
      const res = await app.keyguard.fetch(stub.url + CHAT, {
        method: 'POST', headers: { authorization: `Bearer ${app.keyguard.key()}`, 'content-type': 'application/json' }, body: '{}'
      })
      return reply.code(res.status).send(await res.json())
    })
    out.push({ app, logs: captured.logs })
  }
  return out
}

/** Probes the stand-in answered so far. */
export const probes = (stub: Stub): number => stub.requests.filter((r) => r.path.startsWith(PROBE_PATH)).length

/** The readiness status code of each replica. */
export async function readiness (apps: Replica[]): Promise<number[]> {
  return Promise.all(apps.map(async ({ app }) => (await app.inject('/readyz')).statusCode))
}

/** Log lines (message only) of one replica that contain `text`. */
export const lines = (replica: Replica, text: string): string[] =>
  replica.logs.records().map((r) => String(r.msg)).filter((msg) => msg.includes(text))

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
