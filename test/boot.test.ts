import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { test } from 'tap'
import { CONCURRENCY } from '../lib/core/schedule.js'
import Fastify from 'fastify'
import keyguard from '../index.js'
import type { BootRefusedError, KeySpec } from '../index.js'
import { appWith, booted, canary, leaks } from './helpers/app.js'
import { stubFor } from './helpers/stub.js'
import type { Mode } from './helpers/stub.js'

const GOOD = 'fw_' + 'G'.repeat(32)
const BAD = 'fw_' + 'B'.repeat(32)

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function bootError (ready: PromiseLike<unknown>): Promise<BootRefusedError> {
  try {
    await ready
  } catch (err) {
    return err as BootRefusedError
  }
  throw new Error('ready() resolved')
}

test('a valid key boots, readiness passes and the transition is logged once at info', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD } })
  t.teardown(() => app.close())
  t.equal(app.keyguard.report().checks.fireworks?.cause, 'pending', 'pending before the first verdict')
  t.equal(app.keyguard.report().status, 'fail')
  await app.ready()
  const check = app.keyguard.report().checks.fireworks
  t.match(check, { status: 'pass', cause: 'valid', reason: 'ok', httpStatus: 200, fingerprint: 'fw_…GGGG', source: 'env', provider: 'fireworks', env: 'FIREWORKS_API_KEY' })
  t.equal(stub.hits, 1, 'one probe')
  t.equal(stub.requests[0]?.path, '/v1/accounts/fireworks/models?pageSize=1', 'the control-plane route, not /inference/v1/models')
  t.equal(stub.lastKey(), GOOD)
  const lines = logs.records().filter((r) => (r.keyguard as { cause?: string } | undefined)?.cause === 'valid')
  t.equal(lines.length, 1)
  t.equal(lines[0]?.level, 30)
  t.equal(app.keyguard.key(), GOOD)
  t.equal(app.keyguard.key('fireworks'), GOOD)
})

const REFUSING: Array<[string, Mode, string, string]> = [
  ['rejected', '401json', 'rejected', 'unauthorized'],
  ['forbidden', '403json', 'forbidden', 'forbidden']
]

for (const [row, mode, cause, reason] of REFUSING) {
  test(`cause table: ${row} refuses the boot with its cause and fix`, async (t) => {
    const stub = await stubFor(t, { mode })
    const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD } })
    t.teardown(() => app.close())
    const err = await bootError(app.ready())
    t.equal(err.code, 'FST_KEYGUARD_BOOT_REFUSED')
    t.equal(err.checks.length, 1)
    t.match(err.checks[0], { name: 'fireworks', cause, reason, status: 'fail', fingerprint: 'fw_…BBBB' })
    t.match(err.message, /\[fireworks\]/)
    t.match(err.message, /FIREWORKS_API_KEY/)
    t.match(err.message, /Fireworks AI/)
    t.match(err.message, /Fix: /)
    // Issue 16 #3: told once: the key's own error line, never the thrown error again.
    const errors = logs.records().filter((r) => (r.level as number) >= 50)
    t.equal(errors.length, 1, 'one error line')
    t.match(errors[0], { keyguard: { key: 'fireworks', cause, reason }, msg: /^fastify-keyguard: Fireworks AI .*FIREWORKS_API_KEY.* Fix: / })
    t.notOk(errors[0]?.err, 'the refusal is not logged as an error object')
    t.equal(err.message.split('fw_…BBBB').length, 2, 'the message names the fingerprint once')
    t.notOk(Object.keys(err).includes('checks'), '.checks is not enumerable: a logger\'s serializer does not print every entry')
  })
}

test('cause table: missing and malformed refuse the boot and send nothing', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  for (const [env, cause] of [[{}, 'missing'], [{ FIREWORKS_API_KEY: 'fw_ab\u200bcdefghijklmnopqrstuv' }, 'malformed']] as const) {
    const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env })
    const err = await bootError(app.ready())
    t.equal(err.checks[0]?.cause, cause)
    await app.close()
  }
  t.equal(stub.hits, 0, 'a key that fails inspection is never sent anywhere')
})

const BOOTING: Array<[string, Mode, string, string, number]> = [
  ['limited (429)', '429', 'limited', 'warn', 200],
  ['limited (402)', '402', 'limited', 'warn', 200],
  ['unreachable (503)', '503', 'unreachable', 'warn', 200],
  ['unreachable (CDN 522)', 'cf52x', 'unreachable', 'warn', 200]
]

for (const [row, mode, cause, status, ready] of BOOTING) {
  test(`cause table: ${row} boots with a warning and readiness ${ready}`, async (t) => {
    const stub = await stubFor(t, { mode })
    const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { retries: 0, interval: 0 } })
    t.match(app.keyguard.report(), { status, checks: { fireworks: { cause, status } } })
    t.equal((await app.inject('/readyz')).statusCode, ready)
  })
}

test('cause table: unchecked (probe: false) boots without a request', async (t) => {
  const stub = await stubFor(t)
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url, probe: false }], env: { FIREWORKS_API_KEY: GOOD } })
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unchecked', reason: 'probe-disabled', status: 'pass' })
  t.equal(stub.hits, 0)
  const all = await appWith({ keys: ['fireworks'], env: { FIREWORKS_API_KEY: GOOD }, probe: false })
  await all.app.ready()
  t.equal(all.app.keyguard.report().checks.fireworks?.cause, 'unchecked')
  await all.app.close()
})

test('cause table: an optional key that is absent is unchecked and the boot goes on', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({
    keys: [{ provider: 'fireworks', baseUrl: stub.url }, { provider: 'openai', baseUrl: stub.url, required: false }],
    env: { FIREWORKS_API_KEY: GOOD, OPENAI_KEY: 'x' }
  })
  t.teardown(() => app.close())
  await app.ready()
  const check = app.keyguard.report().checks.openai
  t.match(check, { cause: 'unchecked', reason: 'not-configured', status: 'pass' })
  t.match(check?.message, /OPENAI_API_KEY is not set; the key is optional/)
  t.match(check?.message, /OPENAI_KEY/, 'near-miss names are offered for optional keys too')
  t.equal((await app.inject('/readyz')).statusCode, 200)
  for (const empty of ['', '  ']) {
    const blank = await appWith({ keys: [{ provider: 'openai', baseUrl: stub.url, required: false }], env: { OPENAI_API_KEY: empty } })
    await blank.app.ready()
    t.match(blank.app.keyguard.report().checks.openai, { cause: 'unchecked', reason: 'not-configured' }, 'an empty optional key is absent')
    await blank.app.close()
  }
})

test('onUnreachable decides the unreachable case', async (t) => {
  const stub = await stubFor(t, { mode: '503' })
  const refuse = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, onUnreachable: 'refuse', probe: { retries: 0 } })
  const err = await bootError(refuse.app.ready())
  t.equal(err.checks[0]?.cause, 'unreachable')
  await refuse.app.close()

  const degrade = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, onUnreachable: 'degrade', probe: { retries: 0, interval: 0 } })
  t.teardown(() => degrade.app.close())
  await degrade.app.ready()
  t.equal(degrade.app.keyguard.report().checks.fireworks?.status, 'fail')
  t.equal((await degrade.app.inject('/readyz')).statusCode, 503)

  const degradeInvalid = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, onInvalid: 'degrade', onUnreachable: 'refuse', probe: { retries: 0 } })
  t.teardown(() => degradeInvalid.app.close())
  const err2 = await bootError(degradeInvalid.app.ready())
  t.equal(err2.code, 'FST_KEYGUARD_BOOT_REFUSED', "onUnreachable: 'refuse' refuses even in degrade mode")
})

test('faults #52: listen() rejects on a refused boot and the port is never opened', async (t) => {
  const stub = await stubFor(t)
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD } })
  const err = await bootError(app.listen({ port, host: '127.0.0.1' }))
  t.equal(err.code, 'FST_KEYGUARD_BOOT_REFUSED')
  const refused = await new Promise<string>((resolve) => {
    const socket = createServer().listen(port, '127.0.0.1', () => { socket.close(() => resolve('free')) }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
  })
  t.equal(refused, 'free', 'the port was never bound')
})

test('faults #19: a hanging stand-in makes ready() settle within the probe timeout plus a second, as unreachable', async (t) => {
  const stub = await stubFor(t, { mode: 'hang' })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { timeout: 300, interval: 0 } })
  t.teardown(() => app.close())
  const started = performance.now()
  await app.ready()
  const took = performance.now() - started
  t.ok(took < 1300, `settled in ${Math.round(took)} ms`)
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', reason: 'timeout', status: 'warn' })
  t.equal(stub.hits, 1, 'a timeout is not retried')
})

test("faults #55: the probe's own deadline fires before Fastify's pluginTimeout", async (t) => {
  const stub = await stubFor(t, { mode: 'hang' })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { timeout: 60_000, interval: 0 } }, { pluginTimeout: 1500 })
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', reason: 'timeout' }, 'not FST_ERR_HOOK_TIMEOUT')
})

test('keys are probed concurrently and reported separately', async (t) => {
  // More keys than are probed at once, so the bound is reached.
  const COUNT = CONCURRENCY + 16
  const stub = await stubFor(t, { mode: 'slow', delay: 150, keys: [GOOD] })
  const keys: KeySpec[] = []
  const env: Record<string, string> = {}
  for (let i = 1; i <= COUNT; i++) {
    keys.push({ name: `k${i}`, provider: 'fireworks', env: `K${i}`, baseUrl: stub.url })
    env[`K${i}`] = i === 7 ? BAD : GOOD
  }
  const warnings: Error[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const { app } = await booted(t, { keys, env, onInvalid: 'degrade', probe: { interval: 0 } })
  t.same(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning')
  const report = app.keyguard.report()
  t.equal(Object.keys(report.checks).length, COUNT)
  t.equal(Object.values(report.checks).filter((c) => c.cause === 'valid').length, COUNT - 1)
  t.equal(report.checks.k7?.cause, 'rejected')
  t.equal(stub.hits, COUNT)
  t.ok(stub.peak > 1, `probes overlapped (peak ${stub.peak})`)
  t.ok(stub.peak <= CONCURRENCY, `at most ${CONCURRENCY} at a time`)
})

test('degrade mode boots with a failing key; key() refuses a missing one', async (t) => {
  const stub = await stubFor(t)
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }, { provider: 'openai', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: BAD }, onInvalid: 'degrade', probe: { interval: 0 } })
  t.equal(app.keyguard.report().status, 'fail')
  t.equal(app.keyguard.key('fireworks'), BAD, 'a rejected key is still the current key; the gate decides')
  t.throws(() => app.keyguard.key('openai'), { code: 'FST_KEYGUARD_KEY_UNAVAILABLE', message: /OPENAI_API_KEY.*missing/ })
  t.throws(() => app.keyguard.key(), { code: 'FST_KEYGUARD_KEY_UNAVAILABLE', message: /Several keys/ })
  t.throws(() => app.keyguard.key('nope'), { code: 'FST_KEYGUARD_KEY_UNAVAILABLE', message: /No key named "nope"/ })
  await t.rejects(app.keyguard.recheck('nope'), { code: 'FST_KEYGUARD_KEY_UNAVAILABLE' })
})

test('faults #71 #78: a canary key never appears in logs, errors, checks, report or the decorator', async (t) => {
  const key = canary()
  const stub = await stubFor(t, { mode: '401json' })
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: key + '\n' } })
  t.teardown(() => app.close())
  const err = await bootError(app.ready())
  const seen = [
    logs.text(),
    err.message,
    String(err.stack),
    JSON.stringify(err.checks),
    JSON.stringify(app.keyguard.report()),
    JSON.stringify(app.keyguard),
    inspect(app.keyguard, { depth: 5 }),
    inspect(err, { depth: 5 })
  ].join('\n')
  t.same(leaks(seen, key), [], 'no 8-character piece of the key')
  t.match(inspect(app.keyguard), /Keyguard \{ keys: \[fireworks\]/)
})

test('a refusal lists every failing key', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }, { provider: 'openai', baseUrl: stub.url }, { provider: 'groq', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD, OPENAI_API_KEY: 'changeme' } })
  t.teardown(() => app.close())
  const err = await bootError(app.ready())
  t.match(err.message, /^fastify-keyguard refused to boot: 2 keys failed\n {2}- \[openai\] malformed: .*OPENAI_API_KEY holds a placeholder.*\n {2}- \[groq\] missing: GROQ_API_KEY is not set/)
  t.same(err.checks.map((c) => c.name), ['openai', 'groq'])
})

test('with pluginTimeout 0 the probe has only its own deadline', async (t) => {
  const stub = await stubFor(t, { mode: 'hang' })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, probe: { timeout: 200, interval: 0 } }, { pluginTimeout: 0 })
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', reason: 'timeout' })
})

test('faults #27: the env option\'s proxy variables route the probe through undici\'s EnvHttpProxyAgent, closed with the app', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  let tunnels = 0
  const proxy = createHttpServer()
  proxy.on('connect', (_req, socket) => {
    tunnels++
    socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n')
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  const { app } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD, HTTP_PROXY: proxyUrl, NO_PROXY: '' }, probe: { retries: 0, interval: 0 } })
  await app.ready()
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', reason: 'proxy' })
  t.match(app.keyguard.report().checks.fireworks?.fix, /HTTPS_PROXY/)
  t.equal(tunnels, 1)
  t.equal(stub.hits, 0, 'the probe went to the proxy, not straight to the stand-in')
  await app.close()

  const bypass = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD, http_proxy: proxyUrl, no_proxy: '127.0.0.1' }, probe: { interval: 0 } })
  t.teardown(() => bypass.app.close())
  await bypass.app.ready()
  t.equal(bypass.app.keyguard.report().checks.fireworks?.cause, 'valid', 'NO_PROXY lets the probe go direct')
  t.equal(tunnels, 1)
})

test('faults #90: an unexpected failure while checking is logged and reported, never thrown', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const dir = t.testdir({ 'env-dir': {} })
  // env-schema reads the .env path and throws EISDIR on a directory.
  const { app, logs } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: GOOD }, dotenv: `${dir}/env-dir`, probe: { interval: 0 } })
  t.match(app.keyguard.report().checks.fireworks, { cause: 'unreachable', reason: 'internal', status: 'warn' })
  const line = logs.records().find((r) => r.msg === 'fastify-keyguard: checking a key failed unexpectedly')
  t.match(line, { level: 50, err: { code: 'EISDIR' } })
})

test('dotenv: a .env file supplies keys; the env option wins over it', async (t) => {
  const stub = await stubFor(t, { keys: [GOOD] })
  const dir = t.testdir({ '.env': `FIREWORKS_API_KEY=${GOOD}\nOPENAI_API_KEY=${BAD}\n` })
  const { app } = await booted(t, { keys: [{ provider: 'fireworks', baseUrl: stub.url }, { provider: 'openai', baseUrl: stub.url, probe: false }], env: { OPENAI_API_KEY: 'sk-proj-' + 'Z'.repeat(40) }, dotenv: `${dir}/.env` })
  t.equal(app.keyguard.key('fireworks'), GOOD, 'read from the .env file')
  t.equal(app.keyguard.key('openai'), 'sk-proj-' + 'Z'.repeat(40), 'the env option wins')
})
