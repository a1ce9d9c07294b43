// Probes to an HTTPS origin ask for HTTP/2 (ALPN) and share one connection as streams (issue 17): on
// HTTP/1.1, 20 keys took 20 connections and 20 TLS handshakes. Real TLS stand-ins on 127.0.0.1, one that
// speaks h2 (and HTTP/1.1), one that speaks HTTP/1.1 only, trusted through a throwaway CA.
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createSecureServer } from 'node:http2'
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2'
import { createServer as createHttps } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:tls'
import type { AddressInfo, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { test } from 'tap'
import type { Test } from 'tap'
import { probe } from '../lib/core/probe.js'
import { IDLE_SOCKET_MS, ProbeTransport } from '../lib/core/transport.js'
import { providers } from '../lib/providers/index.js'
import type { ProviderSpec } from '../lib/providers/types.js'
import { until } from './helpers/app.js'
import { makePki } from './helpers/pki.js'
import { silent } from './helpers/loopback.js'
import { settings } from './helpers/probe.js'

const KEY = 'fw_' + 'H'.repeat(28)
const fireworks = providers.fireworks
const pki = makePki()
t.teardown(() => rmSync(pki.dir, { recursive: true, force: true }))
const MODELS = '{"models":[{"name":"accounts/fireworks/models/x"}]}'

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void

interface TlsStandIn {
  url: string
  /** TCP connections accepted so far. */
  opened: () => number
  /** Connections open now. */
  open: () => number
  /** The HTTP version of every request, in order. */
  versions: string[]
  sessions: Set<ServerHttp2Session>
}

const answer: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(MODELS)
}

/** An HTTPS stand-in: `h2` offers HTTP/2 and HTTP/1.1 at ALPN, as providers do; otherwise HTTP/1.1 only. */
async function standIn (t: Test, h2: boolean, handler: Handler = answer, cert = 'good'): Promise<TlsStandIn> {
  const versions: string[] = []
  const sockets = new Set<Socket>()
  const sessions = new Set<ServerHttp2Session>()
  let opened = 0
  const tls = { key: pki.read(`${cert}.key`), cert: pki.read(`${cert}.pem`) }
  const listener = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    versions.push(req.httpVersion)
    handler(req, res)
  }
  const server = h2
    ? createSecureServer({ ...tls, allowHTTP1: true }, listener)
    : createHttps(tls, listener)
  server.on('connection', (socket: Socket) => {
    opened++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, opened: () => opened, open: () => sockets.size, versions, sessions }
}

/** A transport that trusts the throwaway CA, closed when the test ends. */
function transportFor (t: Test): ProbeTransport {
  const transport = new ProbeTransport(undefined, {}, { ca: pki.read('ca.pem') })
  t.teardown(() => transport.close())
  return transport
}

const routed = (transport: ProbeTransport, over: Parameters<typeof settings>[0] = {}): ReturnType<typeof settings> =>
  settings({ timeout: 2000, route: (url, timeout) => transport.route(url, timeout), ...over })

const many = (n: number, url: string, over: ReturnType<typeof settings>, spec: ProviderSpec = fireworks) =>
  Promise.all(Array.from({ length: n }, () => probe(url, spec, KEY, over)))

test('20 probes to an origin that speaks h2: one connection, one handshake, 20 streams; none left after close', async (t) => {
  const stand = await standIn(t, true)
  const transport = transportFor(t)
  const verdicts = await many(20, stand.url, routed(transport))
  t.same(verdicts.map((v) => v.cause), Array(20).fill('valid'))
  t.equal(stand.opened(), 1, 'one TCP connection for 20 concurrent probes')
  t.same(stand.versions, Array(20).fill('2.0'), 'every probe was an HTTP/2 stream')
  const again = await many(20, stand.url, routed(transport))
  t.same(again.map((v) => v.cause), Array(20).fill('valid'))
  t.equal(stand.opened(), 1, 'a second round (recheck) reuses the session')
  transport.close()
  t.ok(await until(() => stand.open() === 0), 'close() destroyed the session and its connection')
  const after = await probe(stand.url, fireworks, KEY, routed(transport))
  t.equal(after.cause, 'unreachable', 'after close, a probe makes no session of its own')
})

test('an origin that allows 2 streams at once and sends its settings late: 12 probes queue on its one connection', async (t) => {
  let active = 0
  let peak = 0
  let opened = 0
  const h2 = createSecureServer({ settings: { maxConcurrentStreams: 2 } }, (req, res) => {
    peak = Math.max(peak, ++active)
    setTimeout(() => { active--; answer(req, res) }, 20)
  })
  // TLS ends at once; the HTTP/2 server (its SETTINGS preface) takes the connection 100 ms later. Streams sent
  // before the SETTINGS would be over the limit and refused.
  const front = createTlsServer({ key: pki.read('good.key'), cert: pki.read('good.pem'), ALPNProtocols: ['h2'] }, (socket) => {
    opened++
    setTimeout(() => h2.emit('secureConnection', socket), 100)
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { front.close(() => resolve()) }))
  const url = `https://127.0.0.1:${(front.address() as AddressInfo).port}`
  const transport = transportFor(t)
  const verdicts = await many(12, url, routed(transport))
  t.same(verdicts.map((v) => v.cause), Array(12).fill('valid'))
  t.equal(opened, 1)
  t.ok(peak <= 2, `at most 2 in flight at the origin (peak ${peak})`)
  transport.close()
})

test('an origin that picks h2 and closes before its settings: a reset, and the next probe connects again', async (t) => {
  let opened = 0
  const front = createTlsServer({ key: pki.read('good.key'), cert: pki.read('good.pem'), ALPNProtocols: ['h2'] }, (socket) => {
    opened++
    socket.on('error', () => {}).end()
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { front.close(() => resolve()) }))
  const url = `https://127.0.0.1:${(front.address() as AddressInfo).port}`
  const transport = transportFor(t)
  const verdict = await probe(url, fireworks, KEY, routed(transport))
  t.same([verdict.cause, verdict.reason], ['unreachable', 'reset'])
  await probe(url, fireworks, KEY, routed(transport))
  t.equal(opened, 2, 'not remembered')
})

test('an origin that speaks HTTP/1.1 only: remembered at the first ALPN, then the keep-alive agent', async (t) => {
  const stand = await standIn(t, false)
  const transport = transportFor(t)
  const verdicts = await many(5, stand.url, routed(transport))
  t.same(verdicts.map((v) => v.cause), Array(5).fill('valid'))
  t.same(stand.versions, Array(5).fill('1.1'))
  const afterBoot = stand.opened()
  t.ok(afterBoot <= 6, `${afterBoot} connections: one ALPN handshake, then at most one per probe in flight`)
  await many(5, stand.url, routed(transport))
  t.equal(stand.opened(), afterBoot, 'no second ALPN handshake, and the agent\'s connections are reused')
})

test('http: origins never try h2 (no cleartext upgrade): they go through the HTTP/1.1 agent', async (t) => {
  const transport = transportFor(t)
  const route = await transport.route(new URL('http://127.0.0.1:9/'), 100)
  t.ok('agent' in route && route.agent !== undefined, 'the keep-alive agent')
})

test('a certificate the system does not trust: every probe waiting on the handshake says so; the next one tries again', async (t) => {
  const stand = await standIn(t, true, answer, 'self')
  const transport = transportFor(t)
  const verdicts = await many(3, stand.url, routed(transport))
  t.same(verdicts.map((v) => [v.cause, v.reason]), Array(3).fill(['unreachable', 'tls-self-signed']))
  t.same(stand.versions, [], 'no request was sent: the key never left')
  t.equal(stand.opened(), 1, 'one handshake for the three probes that waited on it')
  await probe(stand.url, fireworks, KEY, routed(transport))
  t.equal(stand.opened(), 2, 'a failed handshake is not remembered: the next probe connects again')
})

test('a TLS handshake that never ends: the probe ends at its deadline, the transport\'s socket at the handshake timeout', async (t) => {
  const { open, url } = await silent(t)
  const transport = transportFor(t)
  const verdict = await probe(url, fireworks, KEY, routed(transport, { timeout: 150 }))
  t.same([verdict.cause, verdict.reason], ['unreachable', 'timeout'])
  t.ok(await until(() => open() === 0), 'the silent connection was closed, not left to the server')
})

test('a stream with no answer, and one whose body stalls: each probe ends at its deadline, its stream reset', async (t) => {
  const closed: string[] = []
  const stand = await standIn(t, true, (req, res) => {
    req.on('close', () => closed.push(String(req.url)))
    // /stall sends headers and a first piece of the body, then nothing; /hang sends nothing at all.
    if (String(req.url).includes('stall')) {
      const h2 = res as Http2ServerResponse
      h2.writeHead(200, { 'content-type': 'application/json' })
      h2.write('{"models":[')
    }
  })
  const transport = transportFor(t)
  const hang = { ...fireworks, probe: { path: '/hang' } }
  const stall = { ...fireworks, probe: { path: '/stall' } }
  const [hung, stalled] = await Promise.all([
    probe(stand.url, hang, KEY, routed(transport, { timeout: 200, retries: 0 })),
    probe(stand.url, stall, KEY, routed(transport, { timeout: 200, retries: 0 }))
  ])
  t.same([hung.cause, hung.reason], ['unreachable', 'timeout'], 'no answer: the deadline')
  t.same([stalled.cause, stalled.reason], ['unreachable', 'timeout'], 'a stalled body: the deadline')
  t.ok(await until(() => closed.length === 2), 'both streams were reset by the client, not left open')
  t.equal(stand.opened(), 1, 'on the one session, which stays')
})

test('the app closes while a stream waits for its answer: the probe settles at once as aborted', async (t) => {
  const stand = await standIn(t, true, () => {})
  const transport = transportFor(t)
  const controller = new AbortController()
  const started = performance.now()
  const pending = probe(stand.url, fireworks, KEY, routed(transport, { timeout: 5_000, signal: controller.signal }))
  t.ok(await until(() => stand.versions.length === 1), 'the stream was sent')
  controller.abort()
  const verdict = await pending
  t.same([verdict.cause, verdict.reason], ['unreachable', 'aborted'])
  t.ok(performance.now() - started < 4_000, 'long before the deadline')
})

test('close() while the handshake is in flight: the probe settles and nothing is left open', async (t) => {
  const { open, url } = await silent(t)
  const transport = transportFor(t)
  const pending = probe(url, fireworks, KEY, routed(transport))
  t.ok(await until(() => open() === 1), 'the handshake started')
  transport.close()
  const verdict = await pending
  t.same([verdict.cause, verdict.reason], ['unreachable', 'reset'])
  t.ok(await until(() => open() === 0), 'the connection was destroyed')
})

test('a session the origin ends (GOAWAY, reset): the probes on it are retried on a new session', async (t) => {
  let first = true
  const stand = await standIn(t, true, (req, res) => {
    if (first) {
      first = false
      ;(req as Http2ServerRequest).stream.session?.destroy()
      return
    }
    answer(req, res)
  })
  const transport = transportFor(t)
  const lost = await probe(stand.url, fireworks, KEY, routed(transport))
  t.equal(lost.cause, 'unreachable', 'the stream ended with its session')
  t.ok(['reset', 'closed'].includes(lost.reason), `a transient reason: ${lost.reason}`)
  const retried = await probe(stand.url, fireworks, KEY, routed(transport, { retries: 1 }))
  t.equal(retried.cause, 'valid', 'the next probe opened a new session')
  t.equal(stand.opened(), 2)
})

test('a graceful GOAWAY: streams in flight finish, the next probe opens a new session', async (t) => {
  const stand = await standIn(t, true, (req, res) => {
    ;(req as Http2ServerRequest).stream.session?.goaway()
    answer(req, res)
  })
  const transport = transportFor(t)
  t.equal((await probe(stand.url, fireworks, KEY, routed(transport))).cause, 'valid')
  t.equal((await probe(stand.url, fireworks, KEY, routed(transport))).cause, 'valid')
  t.equal(stand.opened(), 2, 'the session the origin sent away from was not used again')
})

test('an idle session closes after the idle time, and a slower probe still gets its answer', async (t) => {
  const slow = await standIn(t, true, (req, res) => setTimeout(() => answer(req, res), IDLE_SOCKET_MS + 300))
  const quick = await standIn(t, true)
  const transport = transportFor(t)
  const [late, soon] = await Promise.all([
    probe(slow.url, fireworks, KEY, routed(transport, { timeout: IDLE_SOCKET_MS + 2000 })),
    probe(quick.url, fireworks, KEY, routed(transport)).then(async (verdict) => {
      t.equal(quick.open(), 1, 'kept open for the next probe')
      t.ok(await until(() => quick.open() === 0, IDLE_SOCKET_MS + 1000), 'closed once idle')
      return verdict
    })
  ])
  t.equal(soon.cause, 'valid')
  t.equal(late.cause, 'valid', 'the idle time never cuts a stream in flight')
})

test('h2 requests: connection headers dropped, names lower-cased, a POST body, a capped body, retry-after read', async (t) => {
  const seen: Array<{ method: string | undefined, headers: Record<string, unknown>, body: string }> = []
  const stand = await standIn(t, true, (req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      seen.push({ method: req.method, headers: req.headers, body })
      if (req.url?.includes('big') === true) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('x'.repeat(64 * 1024))
        return
      }
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7', 'x-request-id': 'req_h2abc123' })
      res.end('{"error":{"message":"slow down"}}')
    })
  })
  const transport = transportFor(t)
  const custom: ProviderSpec = {
    ...fireworks,
    probe: {
      ...fireworks.probe,
      method: 'POST',
      body: { probe: true },
      headers: { Connection: 'keep-alive', Host: 'elsewhere.example', 'X-Custom': 'Yes', TE: 'gzip', Upgrade: 'h2c' }
    }
  }
  const verdict = await probe(stand.url, custom, KEY, routed(transport))
  t.same([verdict.cause, verdict.retryAfterMs, verdict.requestId], ['limited', 7000, 'req_h2abc123'])
  const [post] = seen
  t.equal(post?.method, 'POST')
  t.equal(post?.body, '{"probe":true}')
  t.equal(post?.headers['x-custom'], 'Yes')
  t.equal(post?.headers[':authority'], new URL(stand.url).host, 'the authority is the origin\'s, never a header\'s')
  for (const name of ['connection', 'host', 'te', 'upgrade']) t.notOk(name in (post?.headers ?? {}), `no ${name}`)
  const big = await probe(stand.url, { ...fireworks, probe: { ...fireworks.probe, path: '/big' } }, KEY, routed(transport))
  t.equal(big.cause, 'unreachable', 'a 64 KiB answer is cut at the cap, not parsed')
  t.equal((await probe(stand.url, custom, KEY, routed(transport))).cause, 'limited', 'the session outlives the cut')
  t.equal(stand.opened(), 1)
})

test('the plugin, as a user runs it: NODE_EXTRA_CA_CERTS, 20 keys on one h2 origin, one connection', async (t) => {
  const stand = await standIn(t, true)
  const app = fileURLToPath(new URL('./fixtures/h2-app.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import=tsx', app], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: `${pki.dir}/ca.pem`, H2_BASE_URL: stand.url, H2_KEYS: '20' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.equal(code, 0)
  const report = JSON.parse(out) as { status: string, hits: number }
  t.equal(report.status, 'pass')
  t.same(stand.versions, Array(20).fill('2.0'), '20 probes, every one an HTTP/2 stream')
  t.equal(stand.opened(), 1, 'on one connection')
  t.notOk(out.includes(KEY), 'no key in the output')
})
