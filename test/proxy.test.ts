import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Agent, EnvHttpProxyAgent } from 'undici'
import { probe } from '../lib/core/probe.js'
import { providers } from '../lib/providers/index.js'
import { createAgent, proxyEnv, undici } from '../lib/core/transport.js'
import { stubFor } from './helpers/stub.js'
import { render, settings } from './helpers/probe.js'

const KEY = 'sk-proj-SYNTHETICproxykey00000000000000000'
const openai = providers.openai

/** A loopback proxy that refuses every CONNECT tunnel with 407, counting them. */
async function proxy407 (t: Test): Promise<{ url: string, tunnels: () => number }> {
  let tunnels = 0
  const server = createServer((_req, res) => { res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"' }); res.end() })
  server.on('connect', (_req, socket) => {
    tunnels++
    socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels: () => tunnels }
}

function envAgent (t: Test, options: EnvHttpProxyAgent.Options): EnvHttpProxyAgent {
  const agent = new EnvHttpProxyAgent(options)
  t.teardown(() => agent.destroy())
  return agent
}

test('faults #27: a proxy that answers 407 to CONNECT is unreachable (proxy), named with its fix', async (t) => {
  const stub = await stubFor(t, { mode: 'ok' })
  const proxy = await proxy407(t)
  const agent = envAgent(t, { httpProxy: proxy.url, httpsProxy: proxy.url, noProxy: '' })
  const verdict = await probe(stub.url, openai, KEY, settings({ dispatcher: agent, retries: 2 }))
  t.equal(verdict.cause, 'unreachable')
  t.equal(verdict.reason, 'proxy')
  t.equal(verdict.facts?.errno, 'HTTP 407')
  const { message, fix } = render(t, verdict, openai, KEY)
  t.match(message, /proxy refused the tunnel/)
  t.match(fix, /HTTPS_PROXY/)
  t.match(fix, /NO_PROXY/)
  t.equal(proxy.tunnels(), 1, 'a proxy refusal is not retried')
  t.equal(stub.hits, 0, 'nothing reached the upstream')
})

test('faults #28: NO_PROXY with 127.0.0.1 bypasses the proxy; NO_PROXY=localhost does not cover 127.0.0.1', async (t) => {
  const stub = await stubFor(t, { mode: 'ok' })
  const proxy = await proxy407(t)
  const bypass = envAgent(t, { httpProxy: proxy.url, httpsProxy: proxy.url, noProxy: '127.0.0.1,localhost' })
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: bypass }))).cause, 'valid')
  t.equal(stub.hits, 1)
  t.equal(proxy.tunnels(), 0)
  const named = envAgent(t, { httpProxy: proxy.url, httpsProxy: proxy.url, noProxy: 'localhost' })
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: named }))).reason, 'proxy')
  t.equal(proxy.tunnels(), 1)
  t.equal(stub.hits, 1)
})

test('faults #29: proxy credentials never reach the message', async (t) => {
  const stub = await stubFor(t, { mode: 'ok' })
  const proxy = await proxy407(t)
  const secret = 'CANARYproxypass'
  const withAuth = proxy.url.replace('http://', `http://corp-user:${secret}@`)
  const agent = envAgent(t, { httpProxy: withAuth, httpsProxy: withAuth, noProxy: '' })
  const verdict = await probe(stub.url, openai, KEY, settings({ dispatcher: agent }))
  t.equal(verdict.reason, 'proxy')
  render(t, verdict, openai, KEY, [secret, 'corp-user'])
  t.notMatch(JSON.stringify(verdict), secret)
})

test('faults #28: proxyEnv reads the variables as undici does, and createAgent builds the matching agent', async (t) => {
  t.equal(proxyEnv({}), undefined)
  t.equal(proxyEnv({ HTTP_PROXY: '', NO_PROXY: '127.0.0.1' }), undefined, 'empty means unset; NO_PROXY alone is no proxy')
  t.same(proxyEnv({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' }), { httpsProxy: 'http://lower:1' }, 'lower case wins')
  t.same(proxyEnv({ HTTP_PROXY: 'http://p:1', no_proxy: '127.0.0.1', NO_PROXY: 'other' }), { httpProxy: 'http://p:1', noProxy: '127.0.0.1' })
  t.same(proxyEnv({ http_proxy: 'http://p:1', HTTPS_PROXY: 'http://q:1' }), { httpProxy: 'http://p:1', httpsProxy: 'http://q:1' })
  t.equal(undici(), undici(), 'loaded once')

  const stub = await stubFor(t, { mode: 'ok' })
  const proxy = await proxy407(t)
  const direct = createAgent({})
  t.teardown(() => direct.destroy())
  t.ok(direct instanceof Agent)
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: direct }))).cause, 'valid')
  const proxied = createAgent({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url })
  t.teardown(() => proxied.destroy())
  t.ok(proxied instanceof EnvHttpProxyAgent)
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: proxied }))).reason, 'proxy')
  const exempt = createAgent({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' })
  t.teardown(() => exempt.destroy())
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: exempt }))).cause, 'valid')
  t.equal(proxy.tunnels(), 1)
})
