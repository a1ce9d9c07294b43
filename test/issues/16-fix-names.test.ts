// Issue 16 #5: a fix names only what the user configured. With the default baseUrl and no network, the fix
// said "Check the host name in baseUrl" (the user never set one), and lower-cased the provider's label
// ("…network path from this host to fireworks ai"). Each network failure class is produced for real on
// loopback: the probe keeps the provider's own URL (https://api.fireworks.ai) and an undici connector
// carries its connection to a local server that fails in that class's way.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer as createHttp } from 'node:http'
import { createServer as createHttps } from 'node:https'
import { createServer as createNet } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { Agent, buildConnector } from 'undici'
import type { Dispatcher } from 'undici'
import type { Verdict } from '../../lib/core/causes.js'
import { describe } from '../../lib/core/wording.js'
import { PROBE_REASONS } from '../../lib/core/reasons-probe.js'
import { providers } from '../../lib/providers/index.js'
import { booted } from '../helpers/app.js'

const KEY = 'fw_SYNTHETICfixnames00000000000'
const LABEL = providers.fireworks.label // 'Fireworks AI'
const GATEWAY = 'https://gw.example.test'

async function listening (t: Test, server: Server): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  return (server.address() as AddressInfo).port
}

/** A dispatcher whose every connection goes to 127.0.0.1:`port` (TLS still checks api.fireworks.ai's name). */
function toLoopback (t: Test, port: number, options: buildConnector.BuildOptions = {}): Dispatcher {
  const base = buildConnector({ timeout: 2_000, ...options })
  const agent = new Agent({ connect: (opts, cb) => base({ ...opts, hostname: '127.0.0.1', port: String(port) }, cb) })
  t.teardown(() => agent.destroy())
  return agent
}

const dir = mkdtempSync(join(tmpdir(), 'keyguard-16-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem',
  '-out', 'c.pem', '-subj', '/CN=api.fireworks.ai', '-addext', 'subjectAltName=DNS:api.fireworks.ai', '-days', '1'], { cwd: dir, stdio: 'pipe' })

/** Each class: its reason, and how to make it happen (a dispatcher, or the `env` option's proxy). */
const CLASSES: Array<[string, (t: Test) => Promise<{ dispatcher?: Dispatcher, env?: Record<string, string> }>]> = [
  ['dns', async (t) => {
    // What dns.lookup answers for a name that does not resolve; no resolver is asked.
    const lookup = (host: string, _o: unknown, cb: (err: Error) => void): void => {
      cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host }))
    }
    const base = buildConnector({ lookup } as buildConnector.BuildOptions)
    const agent = new Agent({ connect: base })
    t.teardown(() => agent.destroy())
    return { dispatcher: agent }
  }],
  ['refused', async (t) => {
    const server = createNet()
    const port = await listening(t, server)
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return { dispatcher: toLoopback(t, port) }
  }],
  ['reset', async (t) => {
    const port = await listening(t, createNet((socket: Socket) => { socket.resetAndDestroy() }))
    return { dispatcher: toLoopback(t, port) }
  }],
  ['timeout', async (t) => {
    const port = await listening(t, createNet(() => {}))
    return { dispatcher: toLoopback(t, port) }
  }],
  ['tls-self-signed', async (t) => {
    const server = createHttps({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (_q, res) => res.end('{}'))
    return { dispatcher: toLoopback(t, await listening(t, server)) }
  }],
  ['tls-protocol', async (t) => {
    // A plain-HTTP port where HTTPS was expected: the TLS hello gets an HTTP answer.
    const port = await listening(t, createNet((socket: Socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'))
    }))
    return { dispatcher: toLoopback(t, port) }
  }],
  ['proxy', async (t) => {
    const proxy = createHttp()
    proxy.on('connect', (_req, socket: Socket) => { socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n') })
    return { env: { HTTPS_PROXY: `http://127.0.0.1:${await listening(t, proxy)}` } }
  }]
]

for (const [reason, make] of CLASSES) {
  t.test(`${reason}: the fix names baseUrl only when the user set it, and "${LABEL}" keeps its case`, async (t) => {
    for (const baseUrl of [undefined, GATEWAY]) {
      const { dispatcher, env } = await make(t)
      const { app, logs } = await booted(t, {
        keys: [baseUrl === undefined ? 'fireworks' : { provider: 'fireworks', baseUrl }],
        env: { FIREWORKS_API_KEY: KEY, ...env },
        probe: { timeout: 300, retries: 0, interval: 0, ...dispatcher === undefined ? {} : { dispatcher } }
      })
      const check = app.keyguard.report().checks.fireworks
      const what = baseUrl === undefined ? 'default baseUrl' : 'baseUrl set'
      t.match(check, { cause: 'unreachable', reason }, `${what}: the class`)
      const text = `${check?.message ?? ''} ${check?.fix ?? ''}`
      const line = logs.records().find((r) => r.level === 40)?.msg as string
      for (const told of [text, line]) {
        if (baseUrl === undefined) t.notMatch(told, /baseUrl|gw\.example/, `${what}: baseUrl is not named`)
        else t.notMatch(told, /baseUrl(?! \(https:\/\/gw\.example\.test\))/, `${what}: baseUrl is named with its value, or not at all`)
        t.notMatch(told, /fireworks ai/, `${what}: the label is not lower-cased`)
        t.match(told, LABEL, `${what}: the label as the provider writes it`)
        t.notMatch(told, KEY.slice(3, 11), 'no piece of the key')
      }
      if (baseUrl !== undefined && ['dns', 'refused'].includes(reason)) t.match(check?.fix, `baseUrl (${GATEWAY})`, 'the set baseUrl is named')
      await app.close()
    }
  })
}

t.test('every reason of the probe: without a baseUrl set no text names one; the label keeps its case', async (t) => {
  const facts = { origin: 'https://api.fireworks.ai', errno: 'ECODE', timeoutMs: 300, target: 'https://elsewhere.example/', contentType: 'text/html' }
  const subject = { label: LABEL, where: 'FIREWORKS_API_KEY', env: 'FIREWORKS_API_KEY', fingerprint: 'fw_…0000', dashboard: providers.fireworks.dashboard }
  for (const reason of Object.keys(PROBE_REASONS)) {
    const verdict = { cause: 'unreachable', reason, facts, httpStatus: 404 } as Verdict
    const plain = describe(verdict, subject)
    t.notMatch(`${plain.message} ${plain.fix}`, /baseUrl/, `${reason}: no baseUrl named`)
    t.notMatch(`${plain.message} ${plain.fix}`, /fireworks ai/, `${reason}: label case kept`)
    const set = describe(verdict, { ...subject, baseUrl: GATEWAY })
    t.notMatch(`${set.message} ${set.fix}`, /fireworks ai/, `${reason}: label case kept with baseUrl set`)
    // Where a fix points at baseUrl, it says which one.
    t.notMatch(set.fix, /baseUrl(?! \(https:\/\/gw\.example\.test\))/, `${reason}: a named baseUrl carries its value`)
  }
  const rejected = describe({ cause: 'rejected', reason: 'disabled' }, subject)
  t.match(rejected.fix, `create a new ${LABEL} key`, 'a lower-cased sentence keeps the label\'s case')
})
