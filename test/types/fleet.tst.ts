import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { expect, test } from 'tstyche'
import keyguard from '../../index.js'
import type { FastifyKeyguardOptions, FleetClient, FleetOptions } from '../../index.js'

const app = Fastify()
const redis = new Redis({ lazyConnect: true })

test('fleet: false or { redis, namespace? }, with an ioredis client', () => {
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], fleet: { redis } })
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], fleet: { redis, namespace: 'shop' } })
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], fleet: false })
  expect<FastifyKeyguardOptions['fleet']>().type.toBe<false | FleetOptions | undefined>()
  expect<FleetOptions['namespace']>().type.toBe<string | undefined>()
  expect<FleetClient>().type.toBeAssignableFrom(redis)
})

test('fleet: no client, a URL, a node-redis-like object or true is refused', () => {
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], fleet: true })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], fleet: {} })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], fleet: { redis: 'redis://localhost' } })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], fleet: { redis: { get: async () => null } } })
  expect<FastifyKeyguardOptions>().type.not.toBeAssignableFrom({ keys: ['fireworks'], fleet: { redis, namespace: 7 } })
})
