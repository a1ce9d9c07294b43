// Catalogue cases (reference/faults.md) that fit no other test file. Each test names its cases.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import OpenAI from 'openai'
import { test } from 'tap'
import type { Test } from 'tap'
import { fingerprint } from '../index.js'
import { probe } from '../lib/core/probe.js'
import { providers } from '../lib/providers/index.js'
import { echoes, scrubError } from '../lib/core/redact.js'
import { appWith, booted, canary, leaks, until } from './helpers/app.js'
import type { Logs } from './helpers/app.js'
import { startStub, stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

const CHAT = '/inference/v1'
const PROBE = { interval: 0, retries: 0, timeout: 1_000 }

/** An app guarding `key` for fireworks at the stand-in (`booted`), with `extra` options. */
async function guarding (
  t: Test, stub: Stub, key: string, extra: Record<string, unknown> = {}, routes: (app: FastifyInstance) => void = () => {}
): Promise<{ app: FastifyInstance, logs: Logs }> {
  return booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: key }, probe: PROBE, ...extra }, {}, routes)
}

const chat = (client: OpenAI): Promise<unknown> => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })

test('faults #63 #75: an upstream request id that echoes the key reaches neither the problem nor the logs (SDK error and watching client)', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const { app, logs } = await guarding(t, stub, key, {}, (app) => {
    app.post('/sdk', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0 })))
    app.post('/watched', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0, fetch: app.keyguard.fetch })))
  })
  stub.set('custom', { status: 401, body: { error: { message: 'Incorrect API key provided' } }, headers: { 'x-request-id': key } })
  for (const url of ['/sdk', '/watched']) {
    const res = await app.inject({ method: 'POST', url })
    t.equal(res.statusCode, 502, url)
    t.notOk('upstreamRequestId' in res.json(), `${url}: the echoing id was dropped`)
    t.same(leaks(res.body + JSON.stringify(res.headers), key), [], `${url}: no piece of the key`)
  }
  stub.set('custom', { status: 401, body: {}, headers: { 'x-request-id': 'req_ordinary_1' } })
  t.equal((await app.inject({ method: 'POST', url: '/watched' })).json().upstreamRequestId, 'req_ordinary_1', 'an ordinary id is kept')
  t.same(leaks(logs.text(), key), [])
})

test('faults #75: scrubError scrubs the message, the stack and the cause chain in place, and leaves clean or locked errors alone', async (t) => {
  const key = canary()
  const inner = new Error(`connect to http://user:${key}@127.0.0.1`)
  const outer = new TypeError(`Headers.append: "Bearer ${key}" is an invalid header value.`, { cause: inner })
  scrubError(outer, [key])
  t.same(leaks(`${outer.message}${outer.stack}${inner.message}${inner.stack}`, key), [])
  t.match(outer.message, /Bearer \[REDACTED\]/)
  const clean = new Error('nothing secret')
  const stack = clean.stack
  scrubError(clean, [key])
  t.equal(clean.stack, stack, 'an error without the key is untouched')
  const frozen = Object.freeze(new Error(`key ${key}`))
  t.doesNotThrow(() => scrubError(frozen, [key]), 'a frozen error does not throw')
  t.doesNotThrow(() => scrubError('a string', [key]))
  t.doesNotThrow(() => scrubError({ message: 42, stack: null }, [key]))
  const untouched = new Error(`key ${key}`)
  scrubError(untouched, [])
  t.match(untouched.message, key, 'no secrets known: nothing to scrub')
  const loop: { message: string, cause?: unknown } = { message: key }
  loop.cause = loop
  t.doesNotThrow(() => scrubError(loop, [key]), 'a cause cycle ends')
  t.ok(echoes(`id-${key.slice(5, 13)}`, [key]), 'echoes: an 8-character piece')
  t.notOk(echoes('req_123', [key, '']), 'echoes: none')
  t.ok(echoes('xabc', ['abc']), 'echoes: a secret shorter than a piece, whole')
})

test('faults #75: the probe drops an upstream request id that echoes the key', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  stub.set('custom', { status: 200, body: { models: [] }, headers: { 'x-request-id': key } })
  const { app } = await guarding(t, stub, key)
  t.same(leaks(JSON.stringify(app.keyguard.report()), key), [], 'report() holds no piece of the key')
})

test('faults #43 #75: a Content-Type that echoes the key never reaches the message of the check', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  stub.set('custom', { status: 200, body: 'x', contentType: `text/plain; ${key}` })
  const { app, logs } = await guarding(t, stub, key, { onUnreachable: 'degrade', onInvalid: 'degrade' })
  t.same(leaks(JSON.stringify(app.keyguard.report()) + logs.text(), key), [], 'no piece of the key in report() or logs')
})

test('faults #51: a Retry-After date is measured against the answer\'s own Date header, so a skewed clock does not matter', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  const upstreamNow = Date.now() + 2 * 3_600_000 // the upstream's clock is 2 h ahead of ours
  stub.set('custom', { status: 429, body: {}, headers: { date: new Date(upstreamNow).toUTCString(), 'retry-after': new Date(upstreamNow + 30_000).toUTCString() } })
  const verdict = await probe(stub.url, providers.fireworks, canary(), { timeout: 1_000, retries: 0, signal: new AbortController().signal })
  t.equal(verdict.cause, 'limited')
  t.ok(verdict.retryAfterMs !== undefined && Math.abs(verdict.retryAfterMs - 30_000) <= 1_000, `30 s, not 2 h (${verdict.retryAfterMs} ms)`)
})

test('faults #53: a bad key under both policies: refuse never listens; degrade keeps liveness, fails readiness and 503s gated routes', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [] })
  const refused = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: key }, probe: PROBE })
  await t.rejects(refused.app.listen({ port: 0, host: '127.0.0.1' }), { code: 'FST_KEYGUARD_BOOT_REFUSED' })
  t.equal(refused.app.server.listening, false, 'refuse: the port never opened')
  await refused.app.close()
  const { app } = await guarding(t, stub, key, { onInvalid: 'degrade' }, (app) => {
    app.get('/chat', { config: { keyguard: 'fireworks' } }, async () => 'ran')
    app.get('/free', async () => 'ran')
  })
  t.equal((await app.inject('/livez')).statusCode, 200, 'degrade: liveness 200')
  t.equal((await app.inject('/readyz')).statusCode, 503, 'degrade: readiness 503')
  const gated = await app.inject('/chat')
  t.equal(gated.statusCode, 503)
  t.match(gated.headers['retry-after'], /^\d+$/)
  t.equal((await app.inject('/free')).body, 'ran', 'ungated routes run')
})

test('faults #54: one transient failure between successes does not flip readiness (hysteresis)', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const { app } = await guarding(t, stub, key, { onUnreachable: 'degrade' })
  stub.set('503')
  await app.keyguard.recheck()
  t.equal((await app.inject('/readyz')).statusCode, 200, 'one 503 blip keeps readiness')
  t.equal(app.keyguard.report().checks.fireworks?.cause, 'valid', 'and the last verdict')
  stub.set('auth', { keys: [key] })
  await app.keyguard.recheck()
  stub.set('503')
  await app.keyguard.recheck()
  t.equal((await app.inject('/readyz')).statusCode, 200, 'a success in between starts the count again')
  await app.keyguard.recheck()
  t.equal((await app.inject('/readyz')).statusCode, 503, 'two in a row make the outage count')
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', status: 'fail' })
})

test('faults #57 #76: health and problem bodies hold no address, upstream text or stack frame', async (t) => {
  for (const mode of ['cf52x', '401json'] as const) {
    const key = canary()
    const stub = await stubFor(t, { keys: [key] })
    stub.set(mode)
    const { app } = await guarding(t, stub, key, { onInvalid: 'degrade', onUnreachable: 'degrade' }, (app) => {
      app.get('/chat', { config: { keyguard: 'fireworks' } }, async () => 'ran')
    })
    for (const url of ['/readyz', '/livez', '/chat']) {
      const res = await app.inject(url)
      t.equal(res.headers['cache-control'], 'no-store', `${mode} ${url}: no-store`)
      const text = res.body + JSON.stringify(res.headers)
      for (const bad of ['127.0.0.1', '    at ', 'Cloudflare', 'Incorrect API key', 'Ray ID', 'realm=']) t.notOk(text.includes(bad), `${mode} ${url}: no "${bad}"`)
      t.same(leaks(text, key), [])
    }
  }
})

test('faults #60: probing a huge body does not block the event loop', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  for (const mode of ['huge', 'longlist', 'gzipbomb'] as const) {
    stub.set(mode)
    // The stand-in builds its gzip bomb synchronously on first use, in this process: not the probe's doing.
    await probe(stub.url, providers.fireworks, canary(), { timeout: 2_000, retries: 0, signal: new AbortController().signal })
    const histogram = monitorEventLoopDelay({ resolution: 5 })
    histogram.enable()
    const verdict = await probe(stub.url, providers.fireworks, canary(), { timeout: 2_000, retries: 0, signal: new AbortController().signal })
    histogram.disable()
    const p99 = histogram.percentile(99) / 1e6
    t.ok(p99 < 100, `${mode}: event-loop delay p99 ${p99.toFixed(1)} ms (${verdict.cause}/${verdict.reason})`)
  }
})

test('faults #64: a network fault during a client request leaks no address or code', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const closed = await startStub()
  const dead = closed.url
  await closed.close()
  const { app } = await guarding(t, stub, key, {}, (app) => {
    app.get('/call', async () => (await app.keyguard.fetch(dead + '/v1/models')).text())
  })
  const res = await app.inject('/call')
  t.equal(res.statusCode, 500, 'the application\'s own error handling answers (keyguard converts credential failures only)')
  for (const bad of ['127.0.0.1', 'ECONNREFUSED', new URL(dead).port]) t.notOk(res.body.includes(bad), `no "${bad}" in the body`)
})

test('faults #64 #65: with problem.unavailable, upstream 429/503 and network faults during a client request become 503/502 problem+json with a sanitised Retry-After', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const { app } = await guarding(t, stub, key, { problem: { unavailable: true } }, (app) => {
    app.get('/call', async (_req, reply) => {
      const res = await app.keyguard.fetch(stub.url + CHAT + '/models')
      reply.code(res.status)
      return res.text()
    })
  })
  stub.set('429', { retryAfter: '30' })
  let res = await app.inject('/call')
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /problem\+json/)
  t.equal(res.headers['retry-after'], '30')
  t.notMatch(res.body, /Rate limit reached/)
  stub.set('503', { retryAfter: '0x10' })
  res = await app.inject('/call')
  t.equal(res.statusCode, 503)
  t.notOk('retry-after' in res.headers, 'a junk Retry-After is never forwarded')
  stub.set('cf52x')
  res = await app.inject('/call')
  t.equal(res.statusCode, 502)
  t.notMatch(res.body, /Cloudflare|Ray ID/)
})

test('faults #69: an application error handler that throws: Fastify\'s fallback answers 500 with no key and no upstream text', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const { app, logs } = await guarding(t, stub, key, {}, (app) => {
    app.setErrorHandler((err: Error) => { throw new Error(`handler broke on: ${err.message}`) })
    app.post('/sdk', async () => chat(new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0 })))
    app.get('/plain', async () => { throw new Error(`upstream said: Invalid API key: ${app.keyguard.key()}`) })
  })
  stub.set('401json')
  for (const url of ['/sdk', '/plain']) {
    const res = await app.inject({ method: url === '/sdk' ? 'POST' : 'GET', url })
    // A 500 from a broken handler is not what the upstream's 401 maps to, so keyguard leaves it to Fastify.
    t.equal(res.statusCode, 500, url)
    t.notOk(/Incorrect API key| {4}at /.test(res.body), `${url}: no upstream text, no stack`)
    t.same(leaks(res.body, key), [], `${url}: no piece of the key in the fallback's body`)
  }
  t.same(leaks(logs.text(), key), [], 'keyguard\'s onError scrubbed the key before any handler saw the error')
})

test('faults #74: every provider\'s probe carries the key in a header, never in the URL', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  stub.set('ok')
  for (const provider of Object.values(providers)) {
    const key = canary(provider.key?.prefixes?.[0] ?? 'k_')
    await probe(stub.url, provider, key, { timeout: 1_000, retries: 0, signal: new AbortController().signal })
    const seen = stub.requests.at(-1)
    t.notOk(seen?.path.includes(key.slice(-12)), `${provider.id}: not in the URL`)
    t.equal(stub.lastKey(), key, `${provider.id}: in its auth header`)
  }
})

test('faults #79: the fingerprint is the public prefix and four characters, and it is what the log shows', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [key] })
  const { logs } = await guarding(t, stub, key)
  const fp = fingerprint(key, ['fw_'])
  t.match(fp, /^fw_…[A-Za-z0-9]{4}$/)
  t.same(leaks(fp, key), [], 'no 8-character piece')
  t.ok(logs.records().some((r) => (r.keyguard as { fingerprint?: string } | undefined)?.fingerprint === fp), 'the transition log carries the fingerprint')
})

test('faults #80: upstream text with line breaks never forges a log line', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { keys: [] })
  stub.set('custom', { status: 401, contentType: 'text/plain', body: 'ok\n{"level":60,"msg":"forged"}\r\n\u001b[31mred' })
  const { logs } = await guarding(t, stub, key, { onInvalid: 'degrade' })
  const records = logs.records()
  t.equal(records.length, logs.lines.length, 'every line is one JSON record')
  t.notOk(records.some((r) => r.msg === 'forged' || String(r.msg).includes('\u001b')), 'no forged record, no escape sequence')
})

test('faults #86: keyguard installs no signal listener; 20 apps created and closed leave the counts at baseline and warn nothing', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const
  const before = signals.map((s) => process.listenerCount(s))
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.name) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  for (let i = 0; i < 20; i++) {
    const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: canary() }, probe: PROBE, onInvalid: 'degrade' }, { logger: false })
    await app.ready()
    await app.close()
  }
  t.same(signals.map((s) => process.listenerCount(s)), before)
  t.same(warnings.filter((w) => w === 'MaxListenersExceededWarning'), [])
})

test('faults #85: the plugin exposes markShuttingDown() for a shutdown delay before close()', async (t) => {
  const stub = await stubFor(t, { keys: [] })
  const key = canary()
  stub.set('auth', { keys: [key] })
  const { app } = await guarding(t, stub, key, {}, (app) => { app.get('/work', async () => 'still serving') })
  const before = (await app.inject('/readyz')).statusCode
  app.keyguard.markShuttingDown()
  t.equal((await app.inject('/readyz')).statusCode, 503, 'readiness fails at once')
  t.equal((await app.inject('/livez')).statusCode, 200, 'liveness stays')
  t.equal((await app.inject('/work')).body, 'still serving', 'routes keep serving during the delay')
  t.equal(before, 200)
})

test('faults #87: a rotated key that the provider rejects does not replace a working one (validate, then swap)', async (t) => {
  const [good, bad] = [canary(), canary()]
  const stub = await stubFor(t, { keys: [good] })
  const dir = mkdtempSync(join(tmpdir(), 'keyguard-swap-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'key')
  writeFileSync(file, good)
  const out = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY_FILE: file }, probe: PROBE })
  t.teardown(() => out.app.close())
  await out.app.ready()
  writeFileSync(file + '.new', bad)
  renameSync(file + '.new', file)
  await out.app.keyguard.recheck()
  t.equal(out.app.keyguard.key(), good, 'the working key stays in use')
  t.equal(out.app.keyguard.report().status, 'pass')
  t.match(out.app.keyguard.report().checks.fireworks?.notes?.join(' '), /now holds a different key, which Fireworks AI refused; the previous key \(fw_…/)
  stub.set('auth', { keys: [bad] })
  await out.app.keyguard.recheck()
  t.equal(out.app.keyguard.key(), bad, 'once the provider accepts the new key, it is swapped in')
  stub.set('auth', { keys: [] })
  writeFileSync(file, good)
  await out.app.keyguard.recheck()
  t.equal(out.app.keyguard.report().checks.fireworks?.cause, 'rejected', 'when neither works, the new key\'s verdict is reported')
})

test('faults #99: a probe never queues behind user traffic stuck on the same upstream', async (t) => {
  const key = canary()
  const pending = new Set<() => void>()
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/accounts/fireworks/models') === true) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"models":[]}')
    } else pending.add(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => {
    for (const end of pending) end()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: url }], env: { FIREWORKS_API_KEY: key }, probe: PROBE })
  const controller = new AbortController()
  const stuck = Array.from({ length: 50 }, () => app.keyguard.fetch(url + CHAT + '/chat/completions', { method: 'POST', signal: controller.signal }).catch(() => undefined))
  t.ok(await until(() => pending.size === 50), '50 user calls are stuck upstream')
  const started = performance.now()
  const report = await app.keyguard.recheck()
  t.equal(report.status, 'pass')
  t.ok(performance.now() - started < 1_000, 'the recheck did not wait for them')
  t.equal((await app.inject('/readyz')).statusCode, 200)
  controller.abort()
  await Promise.all(stuck)
})
