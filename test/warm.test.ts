// At register, keyguard opens the connection each HTTPS origin's probes will use (issue 17): the handshake,
// a few round trips to a provider, runs while the app goes on booting. It carries no key, keeps no process
// alive, and is never made around a proxy, a dispatcher, or in fleet mode.
import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createSecureServer } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import t, { test } from 'tap'
import type { Test } from 'tap'
import { Agent } from 'undici'
import keyguard from '../index.js'
import { probe } from '../lib/core/probe.js'
import { ProbeTransport } from '../lib/core/transport.js'
import { providers } from '../lib/providers/index.js'
import { until } from './helpers/app.js'
import { silent } from './helpers/loopback.js'
import { makePki } from './helpers/pki.js'
import { settings } from './helpers/probe.js'

const KEY = 'fw_' + 'W'.repeat(28)
const pki = makePki()
t.teardown(() => rmSync(pki.dir, { recursive: true, force: true }))

const register = async (t: Test, baseUrl: string, over: object = {}): Promise<ReturnType<typeof Fastify>> => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'fireworks', baseUrl }], env: { FIREWORKS_API_KEY: KEY }, ...over })
  return app
}

test('register opens the connection to an HTTPS origin before ready(), once per origin', async (t) => {
  const stand = await silent(t)
  const app = Fastify()
  t.teardown(() => app.close())
  const env = { A: KEY, B: KEY }
  const keys = [{ name: 'a', provider: 'fireworks' as const, env: 'A', baseUrl: stand.url }, { name: 'b', provider: 'fireworks' as const, env: 'B', baseUrl: stand.url }]
  await app.register(keyguard, { keys, env, probe: { timeout: 300 } })
  t.ok(await until(() => stand.opened() === 1), 'one connection for the two keys of one origin, before ready()')
  await app.close()
  t.ok(await until(() => stand.open() === 0), 'close() before ready() closes it')
})

test('never around a proxy, a dispatcher, nor with probing off, nor to an http: origin', async (t) => {
  const stand = await silent(t)
  const agent = new Agent()
  t.teardown(() => agent.close())
  await register(t, stand.url, { env: { FIREWORKS_API_KEY: KEY, HTTPS_PROXY: 'http://127.0.0.1:9' } })
  await register(t, stand.url, { probe: { dispatcher: agent } })
  await register(t, stand.url, { probe: false })
  await register(t, stand.url.replace('https:', 'http:'))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(stand.opened(), 0, 'no connection was made')
})

test('only for a key that is set (its variable, its _FILE, a value, or a .env file to read at ready())', async (t) => {
  const stand = await silent(t)
  await register(t, stand.url, { env: {} })
  await register(t, stand.url, { env: { OTHER: KEY } })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(stand.opened(), 0, 'an unset key: no connection')
  await register(t, stand.url, { env: { FIREWORKS_API_KEY_FILE: '/run/secrets/fireworks' } })
  t.ok(await until(() => stand.opened() === 1), 'a _FILE')
  const other = await silent(t)
  await register(t, other.url, { env: {}, dotenv: true })
  t.ok(await until(() => other.opened() === 1), 'a .env file may hold it')
})

test('nor in fleet mode, where a replica may have nothing to probe (the context, with a fleet)', async (t) => {
  const stand = await silent(t)
  const { createContext } = await import('../lib/core/check.js')
  const { resolveOptions } = await import('../lib/core/options.js')
  const { SecretForms } = await import('../lib/core/redact.js')
  const options = resolveOptions({ keys: [{ provider: 'fireworks', baseUrl: stand.url }], env: { FIREWORKS_API_KEY: KEY } }, {})
  const parts = {
    signal: new AbortController().signal,
    random: Math.random,
    forms: new SecretForms(),
    onFault: () => {},
    log: { error: () => {} } as never,
    scrub: (text: string) => text,
    telemetry: {} as never
  }
  const fleet = createContext(options, { ...parts, fleet: {} as never })
  fleet.warm()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(stand.opened(), 0, 'fleet mode: none')
  const alone = createContext(options, { ...parts, fleet: undefined })
  t.teardown(() => alone.close())
  alone.warm()
  t.ok(await until(() => stand.opened() === 1), 'the control without a fleet connects')
})

test('the probes of ready() take the warmed session: one connection in all', async (t) => {
  let opened = 0
  const server = createSecureServer({ key: pki.read('good.key'), cert: pki.read('good.pem') }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"models":[]}')
  })
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => { opened++; sockets.add(socket) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); return new Promise<void>((resolve) => server.close(() => resolve())) })
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const transport = new ProbeTransport(undefined, {}, { ca: pki.read('ca.pem') })
  t.teardown(() => transport.close())
  transport.warm(new URL(url), 1000)
  t.ok(await until(() => opened === 1), 'warmed')
  const route = (u: URL, timeout: number): ReturnType<ProbeTransport['route']> => transport.route(u, timeout)
  const verdicts = await Promise.all(Array.from({ length: 10 }, () => probe(url, providers.fireworks, KEY, settings({ timeout: 2000, route }))))
  t.same(verdicts.map((v) => v.cause), Array(10).fill('valid'))
  t.equal(opened, 1, 'no second connection')
  transport.warm(new URL(url), 1000)
  transport.warm(new URL('http://127.0.0.1:9/'), 1000)
  t.equal(opened, 1, 'warming a warm origin, or an http: one, does nothing')
})

test('a process that registers keyguard and never boots exits at once: the warm-up holds nothing open', async (t) => {
  const stand = await silent(t)
  const script = fileURLToPath(new URL('./fixtures/warm-exit.ts', import.meta.url))
  const started = performance.now()
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import=tsx', script], { env: { ...process.env, WARM_BASE_URL: stand.url } }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(stdout)
    })
  })
  t.equal(out.trim(), 'registered')
  t.ok(stand.opened() >= 1, 'it had connected')
  t.ok(performance.now() - started < 4000, 'it did not wait for the 5 s handshake timeout')
})
