import { rmSync } from 'node:fs'
import { createServer as createHttps } from 'node:https'
import { createServer as createNet } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import t, { test } from 'tap'
import type { Test } from 'tap'
import { Agent } from 'undici'
import { probe } from '../lib/core/probe.js'
import { providers } from '../lib/providers/index.js'
import { stubFor } from './helpers/stub.js'
import { makePki } from './helpers/pki.js'
import { render, settings, via } from './helpers/probe.js'

const KEY = 'fw_SYNTHETICtlskey000000000000'
const fireworks = providers.fireworks

const pki = makePki()
const ca = pki.read('ca.pem')
t.teardown(() => rmSync(pki.dir, { recursive: true, force: true }))

/** An HTTPS stand-in that answers a Fireworks model list; counts requests that got through TLS. */
async function https (t: Test, name: string): Promise<{ url: string, hits: () => number }> {
  let hits = 0
  const server = createHttps({ key: pki.read(`${name}.key`), cert: pki.read(`${name}.pem`) }, (_req, res) => {
    hits++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"models":[]}')
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits }
}

function trusting (t: Test): Agent {
  // Trusts the throwaway CA for 127.0.0.1 only, so the validity checks are reached; checks stay on.
  const agent = new Agent({ connect: { ca } })
  t.teardown(() => agent.destroy())
  return agent
}

test('faults #24: a certificate from a trusted CA passes (control)', async (t) => {
  const server = await https(t, 'good')
  const verdict = await probe(server.url, fireworks, KEY, settings({ dispatcher: trusting(t) }))
  t.equal(verdict.cause, 'valid')
  t.equal(server.hits(), 1)
})

test('faults #24: a self-signed certificate is unreachable, names the certificate and the fix, and the key is not sent', async (t) => {
  const server = await https(t, 'self')
  for (const dispatcher of [undefined, trusting(t)]) {
    const verdict = await probe(server.url, fireworks, KEY, via(dispatcher))
    t.equal(verdict.cause, 'unreachable')
    t.equal(verdict.reason, 'tls-self-signed')
    t.equal(verdict.facts?.errno, 'DEPTH_ZERO_SELF_SIGNED_CERT')
    const { message, fix } = render(t, verdict, fireworks, KEY)
    t.match(message, /certificate/)
    t.match(fix, /NODE_EXTRA_CA_CERTS/)
    t.match(fix, /never disable/)
  }
  // A certificate from a CA this host does not trust, through the default transport.
  const unknown = await https(t, 'good')
  t.equal((await probe(unknown.url, fireworks, KEY, settings())).reason, 'tls-self-signed')
  t.equal(server.hits() + unknown.hits(), 0, 'no request crossed TLS')
})

test('faults #24: expired, not-yet-valid and wrong-name certificates', async (t) => {
  const agent = trusting(t)
  for (const [name, reason, errno, words] of [
    ['expired', 'tls-expired', 'CERT_HAS_EXPIRED', /expired/],
    ['future', 'tls-not-yet-valid', 'CERT_NOT_YET_VALID', /not valid yet/],
    ['wrongname', 'tls-hostname', 'ERR_TLS_CERT_ALTNAME_INVALID', /another host name/]
  ] as const) {
    const server = await https(t, name)
    const verdict = await probe(server.url, fireworks, KEY, settings({ dispatcher: agent }))
    t.equal(verdict.cause, 'unreachable', name)
    t.equal(verdict.reason, reason)
    t.equal(verdict.facts?.errno, errno)
    const { message, fix } = render(t, verdict, fireworks, KEY)
    t.match(message, words)
    t.match(message, /certificate/)
    t.match(fix, name === 'wrongname' ? /baseUrl/ : /clock/)
    t.equal(server.hits(), 0)
  }
})

test('faults #25: https:// to a plain-HTTP port is a TLS protocol fault that says so', async (t) => {
  const stub = await stubFor(t, { mode: 'ok' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  for (const dispatcher of [undefined, agent]) {
    const verdict = await probe(stub.url.replace('http:', 'https:'), fireworks, KEY, via(dispatcher))
    t.equal(verdict.reason, 'tls-protocol')
    const { message, fix } = render(t, verdict, fireworks, KEY)
    t.match(message, /does not speak HTTPS/)
    t.match(fix, /https:\/\/ to a plain-HTTP port/)
  }
  t.equal(stub.hits, 0, 'no HTTP request was parsed')
})

test('faults #25: http:// to an HTTPS port is a closed connection whose fix names https://', async (t) => {
  const server = await https(t, 'good')
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  for (const dispatcher of [undefined, agent]) {
    const verdict = await probe(server.url.replace('https:', 'http:'), fireworks, KEY, via(dispatcher))
    t.equal(verdict.cause, 'unreachable')
    t.equal(verdict.reason, 'closed')
    t.match(render(t, verdict, fireworks, KEY).fix, /speaks HTTPS closes plain http:\/\/ requests/)
  }
  t.equal(server.hits(), 0)
})

test('faults #18: a TLS handshake that never completes ends at the attempt deadline', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createNet((socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { for (const s of sockets) s.destroy(); silent.close(resolve) }))
  const url = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  for (const dispatcher of [undefined, agent]) {
    const started = performance.now()
    const verdict = await probe(url, fireworks, KEY, via(dispatcher, { timeout: 200, retries: 2 }))
    const took = performance.now() - started
    t.ok(took >= 190 && took < 700, `${Math.round(took)} ms`)
    t.equal(verdict.reason, 'timeout')
  }
})
