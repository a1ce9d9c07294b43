// Issue 14: nothing secret in Redis; entries and messages validated on read; close() releases what it holds.
import { scryptSync } from 'node:crypto'
import Fastify from 'fastify'
import { test } from 'tap'
import keyguard from '../../index.js'
import type { ProviderSpec } from '../../index.js'
import { canary, leaks, logs, until } from '../helpers/app.js'
import { lines, probes, PROBE_PATH, readiness, replicas } from '../helpers/fleet.js'
import { dump, SKIP, startRedis } from '../helpers/redis.js'
import { stubFor } from '../helpers/stub.js'

test('no key bytes and no fingerprint in any Redis key or value, for a canary key and a short custom key', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const long = canary()
  // A short custom key (the shortest a ProviderSpec may allow) is the case a plain hash would give away.
  const short = 'Zq4#kT9!'
  const stub = await stubFor(t, { mode: 'auth', keys: [long, short] })
  const acme: ProviderSpec = { id: 'acme', label: 'Acme', env: 'ACME_API_KEY', baseUrl: stub.url, probe: { path: PROBE_PATH }, key: { minLength: 8 } }
  const apps = await replicas(t, {
    stub,
    redis,
    key: long,
    count: 3,
    interval: 60_000,
    extra: { keys: [{ name: 'fireworks', value: long, baseUrl: stub.url }, { name: 'acme', provider: acme, value: short }] }
  })
  await Promise.all(apps.map(({ app }) => app.ready()))
  t.same(await readiness(apps), [200, 200, 200])
  const fingerprints = Object.values(apps[0]?.app.keyguard.report().checks ?? {}).map((check) => check.fingerprint as string)
  t.equal(fingerprints.length, 2)
  // Hold a lease while scanning: a lease key is there too.
  const admin = redis.client(t)
  const messages: string[] = []
  const sub = redis.client(t)
  await sub.subscribe('keyguard:verdicts')
  sub.on('message', (_channel: string, text: string) => { messages.push(text) })
  stub.set('slow', { keys: [long, short], delay: 300 })
  const rechecked = apps[0]?.app.keyguard.recheck()
  await new Promise((resolve) => setTimeout(resolve, 150))
  const during = await dump(admin)
  await rechecked
  const after = await dump(admin)
  t.ok(during.some(([name]) => name.startsWith('keyguard:lease:')), 'a lease was held during the probe')
  t.ok(after.some(([name]) => name.startsWith('keyguard:verdict:')), 'verdicts are stored')
  t.ok(messages.length >= 1, 'a verdict was published')
  const text = [...during, ...after].flat().join('\n') + messages.join('\n')
  for (const secret of [long, short]) t.same(leaks(text, secret), [], 'no piece of the key, in any form')
  t.notOk(text.includes(short), 'not the short key whole')
  for (const fp of fingerprints) t.notOk(text.includes(fp), 'no fingerprint')
  // The names are the costly digest (scrypt, N = 2^15, r = 8), salted as docs/fleet.md says; a cheap hash fails here.
  for (const [name, value, id, url] of [['fireworks', long, 'fireworks', stub.url], ['acme', short, 'acme', stub.url]]) {
    const salt = ['fastify-keyguard/fleet/v1', 'keyguard', name, id, url].join('\0')
    const digest = scryptSync(value as string, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString('base64url')
    t.ok(after.some(([key]) => key === `keyguard:verdict:${digest}`), `${name}: named by its scrypt digest`)
  }
  const allowed = ['v', 'cause', 'reason', 'at', 'ttl', 'by', 'httpStatus', 'latencyMs', 'retryAfterMs', 'errno', 'timeoutMs']
  for (const [name, value] of after) {
    t.match(name, /^keyguard:(?:verdict|lease):[\w-]{43}$/, 'a key is the namespace, a kind and a digest')
    if (name.startsWith('keyguard:verdict:')) t.same(Object.keys(JSON.parse(value)).filter((k) => !allowed.includes(k)), [], 'only the shared fields')
  }
})

test('a corrupt entry written by hand is ignored, logged once, and the replica probes', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const [first] = await replicas(t, { stub, redis, key, count: 1 })
  await first?.app.ready()
  const admin = redis.client(t)
  const [name, value] = (await dump(admin)).find(([name]) => name.startsWith('keyguard:verdict:')) as [string, string]
  const good = JSON.parse(value as string) as Record<string, unknown>
  const corrupt = [
    '{not json', JSON.stringify({ ...good, v: 2 }), JSON.stringify({ ...good, cause: 'pending' }), JSON.stringify({ ...good, cause: 'constructor' }),
    JSON.stringify({ ...good, ttl: -1 }), JSON.stringify({ ...good, extra: 'sk-' + 'x'.repeat(40) }), JSON.stringify([good]), 'x'.repeat(5000),
    JSON.stringify({ ...good, httpStatus: '200' }), JSON.stringify({ ...good, by: 'someone' }), JSON.stringify({ ...good, reason: 'a b' })
  ]
  for (const entry of corrupt) {
    await admin.set(name as string, entry, 'PX', 60_000)
    const before = probes(stub)
    const [late] = await replicas(t, { stub, redis, key, count: 1 })
    await late?.app.ready()
    t.equal(probes(stub) - before, 1, 'not trusted: the replica probed')
    t.match(late?.app.keyguard.report().checks.fireworks, { status: 'pass', cause: 'valid' })
    t.equal(lines(late as NonNullable<typeof late>, 'ignored a malformed or foreign entry').length, 1, 'logged once')
  }
  // The control: the good entry, put back, is used.
  await admin.set(name as string, value as string, 'PX', 60_000)
  const before = probes(stub)
  const [late] = await replicas(t, { stub, redis, key, count: 1 })
  await late?.app.ready()
  t.equal(probes(stub) - before, 0, 'a valid entry is used')
})

test('a foreign or malformed message on the channel is ignored and logged once; the verdict stands', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'auth', keys: [key] })
  const apps = await replicas(t, { stub, redis, key, count: 2 })
  await Promise.all(apps.map(({ app }) => app.ready()))
  const admin = redis.client(t)
  const [name] = (await dump(admin)).find(([name]) => name.startsWith('keyguard:verdict:')) as [string, string]
  const digest = (name as string).split(':')[2] as string
  const rejected = { v: 1, cause: 'rejected', reason: 'unauthorized', at: Date.now(), ttl: 1000, by: 'x' }
  for (const message of ['nope', JSON.stringify({ v: 1, d: digest, e: rejected }), JSON.stringify({ v: 1, d: 'short', e: { ...rejected, by: '0123456789abcdef' } }),
    JSON.stringify({ v: 1, d: digest, e: { ...rejected, by: '0123456789abcdef' }, x: 1 })]) {
    await admin.publish('keyguard:verdicts', message)
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(await readiness(apps), [200, 200], 'nothing malformed flips a replica')
  for (const replica of apps) t.equal(lines(replica, 'ignored a malformed or foreign entry at the channel').length, 1)
  // The control: a well-formed verdict for this digest does flip them (so the messages above were heard).
  await admin.publish('keyguard:verdicts', JSON.stringify({ v: 1, d: digest, e: { ...rejected, by: '0123456789abcdef' } }))
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(await readiness(apps), [503, 503])
})

test('close() releases the lease and the subscription, and never closes the application\'s client', { skip: SKIP }, async (t) => {
  const redis = await startRedis(t)
  const key = canary()
  const stub = await stubFor(t, { mode: 'hang' })
  const client = redis.client(t)
  const admin = redis.client(t)
  const captured = logs()
  const app = Fastify({ logger: { level: 'info', stream: captured.stream } })
  await app.register(keyguard, {
    keys: [{ name: 'fireworks', value: key, baseUrl: stub.url }],
    env: {},
    onUnreachable: 'degrade',
    probe: { interval: 0, retries: 0, timeout: 5_000 },
    fleet: { redis: client, namespace: 'app1' }
  })
  const clients = async (): Promise<number> => String(await admin.client('LIST')).trim().split('\n').length
  const base = await clients()
  const ready = app.ready()
  const leased = async (): Promise<boolean> => (await dump(admin)).some(([name]) => name.startsWith('app1:lease:'))
  t.ok(await until(leased, 5_000), 'the lease is held while the probe hangs')
  t.equal(await clients(), base + 1, 'one duplicate connection, for the subscription')
  const closing = app.close()
  await Promise.resolve(ready).catch(() => {})
  await closing
  t.same((await dump(admin)).filter(([name]) => name.startsWith('app1:lease:')), [], 'the lease is released at close')
  t.equal(await clients(), base, 'the duplicate is closed')
  t.equal(client.status, 'ready', 'the application\'s client is left open')
  t.equal(await client.ping(), 'PONG')
})
