// Probes share keep-alive connections per origin (issue 17): at boot, keys on one origin need as many
// connections as probes in flight at once, never one per key and probe, and close() leaves none open.
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { test } from 'tap'
import type { Test } from 'tap'
import { probe } from '../lib/core/probe.js'
import { CONCURRENCY } from '../lib/core/schedule.js'
import { IDLE_SOCKET_MS, ProbeTransport } from '../lib/core/transport.js'
import { providers } from '../lib/providers/index.js'
import { appWith, until } from './helpers/app.js'
import { loopback } from './helpers/loopback.js'
import { settings } from './helpers/probe.js'

const KEY = 'fw_' + 'K'.repeat(28)

/** A Fireworks stand-in that counts the connections it accepted and those still open. */
async function standIn (t: Test, delay = 0): Promise<{ url: string, opened: () => number, open: () => number, hits: () => number }> {
  let hits = 0
  const server = await loopback(t, (_req, res) => {
    hits++
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"models":[{"name":"accounts/fireworks/models/x"}]}')
    }, delay)
  })
  return { ...server, hits: () => hits }
}

function keys (n: number, url: string): { keys: Array<{ name: string, provider: 'fireworks', env: string, baseUrl: string }>, env: Record<string, string> } {
  const env: Record<string, string> = {}
  for (let i = 1; i <= n; i++) env[`K${i}`] = KEY
  return { keys: Array.from({ length: n }, (_, i) => ({ name: `k${i + 1}`, provider: 'fireworks' as const, env: `K${i + 1}`, baseUrl: url })), env }
}

test('the transport\'s agents: keep-alive, one per protocol, made once, destroyed with their sockets on close', (t) => {
  const transport = new ProbeTransport(undefined, {})
  const http = transport.agent('http:')
  const https = transport.agent('https:')
  t.ok(http instanceof HttpAgent && !(http instanceof HttpsAgent), 'node:http agent for http:')
  t.ok(https instanceof HttpsAgent, 'node:https agent for https:')
  t.equal(transport.agent('http:'), http, 'made once')
  // keepAlive and options are public at run time, missing from @types/node's Agent.
  const seen = http as unknown as { keepAlive: boolean, options: { timeout: number } }
  t.equal(seen.keepAlive, true)
  t.equal(seen.options.timeout, IDLE_SOCKET_MS, 'idle sockets end before a server\'s usual keep-alive')
  transport.close()
  t.equal(transport.agent('http:'), undefined, 'none after close: probes fall back to agent: false')
  t.end()
})

test('20 keys on one origin: one connection per probe in flight, reused by recheck(); none left after close', async (t) => {
  const stand = await standIn(t, 20)
  const { keys: specs, env } = keys(20, stand.url)
  const { app } = await appWith({ keys: specs, env, probe: { interval: 0 } }, { logger: false })
  await app.ready()
  t.equal(app.keyguard.report().status, 'pass')
  t.equal(stand.hits(), 20)
  t.ok(stand.opened() <= 20, `boot opened ${stand.opened()} connections for 20 concurrent probes`)
  const afterBoot = stand.opened()
  await app.keyguard.recheck()
  t.equal(stand.hits(), 40)
  t.equal(stand.opened(), afterBoot, 'recheck() of every key reused the boot\'s connections: no new one')
  await app.close()
  t.ok(await until(() => stand.open() === 0), 'close() destroyed every probe connection')
})

test(`${CONCURRENCY + 16} keys on one HTTP/1.1 origin: the wave beyond ${CONCURRENCY} reuses the first wave's connections`, async (t) => {
  const stand = await standIn(t, 30)
  const { keys: specs, env } = keys(CONCURRENCY + 16, stand.url)
  const { app } = await appWith({ keys: specs, env, probe: { interval: 0 } }, { logger: false })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(stand.hits(), CONCURRENCY + 16)
  t.ok(stand.opened() <= CONCURRENCY, `${stand.opened()} connections for ${CONCURRENCY + 16} probes, at most ${CONCURRENCY}`)
})

test('probe() without a shared agent keeps no connection open', async (t) => {
  const stand = await standIn(t)
  const verdict = await probe(stand.url, providers.fireworks, KEY, settings())
  t.equal(verdict.cause, 'valid')
  t.ok(await until(() => stand.open() === 0), 'agent: false closes the connection after the answer')
})

test('a probe slower than the idle-socket timeout still gets its answer through the shared agent', async (t) => {
  const stand = await standIn(t, IDLE_SOCKET_MS + 300)
  const transport = new ProbeTransport(undefined, {})
  t.teardown(() => transport.close())
  const route = (url: URL, timeout: number): ReturnType<ProbeTransport['route']> => transport.route(url, timeout)
  const verdict = await probe(stand.url, providers.fireworks, KEY, settings({ timeout: IDLE_SOCKET_MS + 2000, route }))
  t.equal(verdict.cause, 'valid', 'the idle timeout applies to free sockets only')
})
