// Issue 14: the fleet option is checked at register like every other option.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { test } from 'tap'
import keyguard, { DEFAULTS, FST_KEYGUARD_OPTIONS } from '../../index.js'
import { isOptionsError, resolveOptions } from '../../lib/core/options.js'
import type { OptionsError } from '../../lib/core/options.js'
import { canary } from '../helpers/app.js'

const KEY = canary()
const client = new Redis({ lazyConnect: true, port: 9, host: '127.0.0.1' })

const refused = (fleet: unknown): OptionsError => {
  try {
    resolveOptions({ keys: ['fireworks'], fleet }, {})
  } catch (err) {
    return err as OptionsError
  }
  throw new Error('accepted')
}

test('fleet: false by default; { redis } resolves with the default namespace, the client itself kept', async (t) => {
  t.equal(DEFAULTS.fleet, false)
  t.equal(resolveOptions({ keys: ['fireworks'] }, {}).fleet, false)
  t.equal(resolveOptions({ keys: ['fireworks'], fleet: false }, {}).fleet, false)
  const resolved = resolveOptions({ keys: ['fireworks'], fleet: { redis: client } }, {}).fleet
  t.same(resolved, { redis: client, namespace: 'keyguard' })
  t.equal(resolved === false ? undefined : resolved.redis, client, 'the same client, not a copy')
  t.match(resolveOptions({ keys: ['fireworks'], fleet: { redis: client, namespace: 'shop:eu-1' } }, {}).fleet, { namespace: 'shop:eu-1' })
})

test('fleet: every bad value is a structured FST_KEYGUARD_OPTIONS naming the option, never echoing a value', async (t) => {
  const nodeRedis = { get () {}, set () {}, publish () {}, eval () {}, ping () {}, duplicate () {}, isOpen: true }
  const cases: Array<[unknown, string, RegExp]> = [
    [true, 'fleet', /must be false or an object; received true/],
    ['redis://localhost', 'fleet', /must be false or an object/],
    [{}, 'fleet.redis', /ioredis-compatible client .*received undefined/],
    [{ redis: 'redis://127.0.0.1:6379' }, 'fleet.redis', /ioredis-compatible client .*received a string of 22 characters/],
    [{ redis: { get () {} } }, 'fleet.redis', /without methods set, publish, eval, ping, duplicate/],
    [{ redis: nodeRedis }, 'fleet.redis', /without the `status` of an ioredis connection \(node-redis clients are not supported\)/],
    [{ redis: client, namespace: '' }, 'fleet.namespace', /a Redis key prefix/],
    [{ redis: client, namespace: 'a b*' }, 'fleet.namespace', /a Redis key prefix/],
    [{ redis: client, namespace: 7 }, 'fleet.namespace', /received 7/],
    [{ redis: client, [KEY]: 1 }, 'fleet', /option "fleet" has an unknown field a string of \d+ characters; expected redis, namespace/]
  ]
  for (const [fleet, option, message] of cases) {
    const err = refused(fleet)
    t.ok(isOptionsError(err), option)
    t.type(err, FST_KEYGUARD_OPTIONS)
    t.equal(err.option, option)
    t.match(err.message, message)
    t.notOk(err.message.includes(KEY), 'no key in the message')
  }
})

test('fleet: a client that is not ioredis-compatible is refused at register', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(keyguard, { keys: [{ provider: 'fireworks', value: KEY }], fleet: { redis: {} as never } })
  await t.rejects(Promise.resolve(app.ready()), {
    code: 'FST_KEYGUARD_OPTIONS', option: 'fleet.redis'
  })
})
