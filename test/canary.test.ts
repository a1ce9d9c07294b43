// faults #71: one sweep over every scenario of the suite, each with its own canary key, scanning every
// captured byte (trace-level logs, errors and stacks, `.checks`, `report()`, the decorator, health
// bodies, problem bodies and headers, CLI output in-process and from the real binary) for any
// 8-character piece of the key.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import replyFrom from '@fastify/reply-from'
import type { FastifyInstance, FastifyServerOptions, LightMyRequestResponse } from 'fastify'
import OpenAI from 'openai'
import { test } from 'tap'
import type { Test } from 'tap'
import { Agent, request } from 'undici'
import type { BootRefusedError, FastifyKeyguardOptions } from '../index.js'
import { main } from '../lib/cli/main.js'
import { appWith, canary, leaks } from './helpers/app.js'
import type { Logs } from './helpers/app.js'
import { ensureBuilt, memoryIo, runCli } from './helpers/cli.js'
import { stubFor } from './helpers/stub.js'
import type { Stub } from './helpers/stub.js'

const PROBE = { interval: 0, retries: 0, timeout: 300 }
const CHAT = '/inference/v1'

/** Everything one scenario let out, and the secrets none of it may hold. */
class Sweep {
  readonly #t: Test
  readonly #secrets: string[]
  readonly #texts: Array<[string, string]> = []

  constructor (t: Test, ...secrets: string[]) {
    this.#t = t
    this.#secrets = secrets
  }

  add (channel: string, text: unknown): void {
    this.#texts.push([channel, typeof text === 'string' ? text : inspect(text, { depth: 10, showHidden: true })])
  }

  response (label: string, res: LightMyRequestResponse): void {
    this.add(`${label}: status line`, `${res.statusCode} ${res.statusMessage}`)
    this.add(`${label}: headers`, JSON.stringify(res.headers))
    this.add(`${label}: body`, res.body)
  }

  error (label: string, err: unknown): void {
    const e = err as BootRefusedError
    this.add(`${label}: message`, String(e?.message))
    this.add(`${label}: stack`, String(e?.stack))
    this.add(`${label}: .checks`, JSON.stringify(e?.checks ?? null))
    this.add(`${label}: inspect`, err)
  }

  /** The decorator, the report, every health route, and the logs. */
  async app (app: FastifyInstance, logs: Logs): Promise<void> {
    this.add('report()', JSON.stringify(app.keyguard.report()))
    this.add('JSON.stringify(app.keyguard)', JSON.stringify(app.keyguard))
    this.add('util.inspect(app.keyguard)', app.keyguard)
    app.log.info({ keyguard: app.keyguard }, 'the decorator logged as an object')
    for (const url of ['/livez', '/readyz']) {
      for (const method of ['GET', 'HEAD'] as const) this.response(`${method} ${url}`, await app.inject({ method, url }))
    }
    this.logs(logs)
  }

  logs (logs: Logs): void {
    this.add('logs', logs.text())
  }

  check (): void {
    for (const secret of this.#secrets) {
      const found = this.#texts.filter(([, text]) => leaks(text, secret).length > 0).map(([channel]) => channel)
      this.#t.same(found, [], `no 8-character piece of a key of ${secret.length} characters in ${this.#texts.length} captured channels`)
    }
  }
}

async function closedPort (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

/** A non-HTTP peer that answers with the request's own bytes (so `HTTPParserError.data` holds the key). */
async function echoGarbage (t: Test): Promise<string> {
  const server: Server = createServer((socket) => {
    socket.once('data', (chunk: Buffer) => socket.end(Buffer.concat([Buffer.from('SSH-2.0-echo '), chunk])))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A stand-in answer that echoes the whole key in its body and in a header. */
function echoing (stub: Stub, status: number, key: string): void {
  stub.set('custom', { status, body: { error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error', code: 'invalid_api_key' } }, headers: { 'x-echo': key, 'www-authenticate': `Bearer realm="${key}"` } })
}

/** Boots one app, sweeps every channel, closes it. */
async function boot (sweep: Sweep, options: FastifyKeyguardOptions, fastify: FastifyServerOptions = {}, more: (app: FastifyInstance) => Promise<void> = async () => {}): Promise<FastifyInstance> {
  const { app, logs } = await appWith(options, fastify)
  try {
    await app.ready()
  } catch (err) {
    sweep.error('ready()', err)
  }
  await more(app)
  await sweep.app(app, logs)
  await app.close()
  sweep.logs(logs)
  return app
}

test('faults #71 #72 #75 #76 #78 #81: canary sweep over every scenario and every output channel', async (t) => {
  const stub = await stubFor(t)
  const keyOf = (stubMode: () => void, key: string, extra: Partial<FastifyKeyguardOptions> = {}): FastifyKeyguardOptions => {
    stubMode()
    return { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY: key }, probe: PROBE, ...extra }
  }

  t.test('valid, with a trailing newline trimmed', async (t) => {
    const key = canary()
    const sweep = new Sweep(t, key)
    const app = await boot(sweep, keyOf(() => stub.set('auth', { keys: [key] }), key + '\r\n'))
    t.equal(app.keyguard.report().status, 'pass')
    sweep.check()
  })

  t.test('each malformed kind refuses the boot with nothing sent', async (t) => {
    const key = canary()
    const half = key.length >> 1
    const values: Record<string, string> = {
      'control-character': `${key}\r\nX-Evil: 1`,
      invisible: key.slice(0, half) + '\u200b' + key.slice(half),
      'non-ascii': key.slice(0, half) + '\u00a0' + key.slice(half),
      quoted: `"${key}"`,
      'auth-scheme': `Bearer ${key}`,
      'header-line': `Authorization: Bearer ${key}`,
      assignment: `FIREWORKS_API_KEY=${key}`,
      'inner-whitespace': key.slice(0, half) + ' ' + key.slice(half),
      template: '${' + key + '}',
      base64: Buffer.from(key).toString('base64'),
      'too-long': key.repeat(30),
      'wrong-provider': 'sk-proj-' + key.slice(3),
      'too-short': key.slice(0, 12)
    }
    const hits = stub.hits
    for (const [reason, value] of Object.entries(values)) {
      // A value that holds the whole key is checked through the key (its other pieces are words like "Authoriz").
      const sweep = value.includes(key) ? new Sweep(t, key) : new Sweep(t, key, value)
      const app = await boot(sweep, keyOf(() => stub.set('auth', { keys: [key] }), value))
      t.equal(app.keyguard.report().checks.fireworks?.reason, reason, reason)
      sweep.check()
    }
    t.equal(stub.hits, hits, 'no malformed value reached the stand-in')
  })

  t.test('rejected, forbidden, limited: the stand-in echoes the whole key in its body and headers', async (t) => {
    for (const status of [401, 403, 429, 402, 500]) {
      const key = canary()
      const sweep = new Sweep(t, key)
      await boot(sweep, keyOf(() => echoing(stub, status, key), key))
      sweep.check()
    }
  })

  t.test('unreachable: hang, refused, garbage echoing the request (node:http and an undici Agent)', async (t) => {
    const garbage = await echoGarbage(t)
    const refused = await closedPort()
    const agent = new Agent()
    t.teardown(() => agent.close())
    const cases: Array<[string, string, Partial<FastifyKeyguardOptions>]> = [
      ['hang', stub.url, {}],
      ['refused', refused, {}],
      ['garbage', garbage, {}],
      ['garbage via undici', garbage, { probe: { ...PROBE, dispatcher: agent } }],
      ['hang via undici', stub.url, { probe: { ...PROBE, dispatcher: agent } }]
    ]
    for (const [label, baseUrl, extra] of cases) {
      const key = canary()
      const sweep = new Sweep(t, key)
      stub.set('hang')
      const app = await boot(sweep, { keys: [{ provider: 'fireworks', baseUrl }], env: { FIREWORKS_API_KEY: key }, probe: PROBE, onUnreachable: 'refuse', ...extra })
      t.equal(app.keyguard.report().checks.fireworks?.cause, 'unreachable', label)
      sweep.check()
    }
  })

  t.test('degraded boot, a gated route and readiness; the key in an inbound query string (faults #73)', async (t) => {
    const key = canary()
    const sweep = new Sweep(t, key)
    const { app, logs } = await appWith(keyOf(() => echoing(stub, 401, key), key, { onInvalid: 'degrade' }))
    app.get('/chat', { config: { keyguard: 'fireworks' } }, async () => 'never')
    await app.ready()
    const res = await app.inject(`/chat?key=${key}&api_key=${encodeURIComponent(key)}`)
    t.equal(res.statusCode, 503)
    t.equal(res.json().instance, '/chat', 'the problem instance drops the query')
    sweep.response('gated /chat', res)
    t.equal((await app.inject('/readyz')).statusCode, 503)
    await sweep.app(app, { ...logs, text: () => '' })
    await app.close()
    // Fastify's default req serializer logs the URL with its query: the application's logger, not keyguard's.
    const records = logs.records()
    const fastifyLines = records.filter((r) => r.req !== undefined)
    t.ok(fastifyLines.some((r) => leaks(JSON.stringify(r), key).length > 0), 'documented: Fastify\'s own "incoming request" line holds the query string (the app\'s req serializer must strip it)')
    const own = records.filter((r) => r.req === undefined)
    t.ok(own.some((r) => String(r.msg).startsWith('fastify-keyguard')), 'keyguard logged')
    sweep.add('keyguard\'s own log lines', own.map((r) => JSON.stringify(r)).join('\n'))
    sweep.check()
  })

  t.test('the key in the query string with a req serializer that strips it: every line is clean', async (t) => {
    const key = canary()
    const sweep = new Sweep(t, key)
    const serializers = { req: (req: { method: string, url: string }) => ({ method: req.method, url: req.url.replace(/\?.*/, '') }) }
    await boot(sweep, keyOf(() => echoing(stub, 401, key), key, { onInvalid: 'degrade' }), { logger: { level: 'trace', serializers } }, async (app) => {
      sweep.response('/readyz?key=', await app.inject(`/readyz?key=${key}`))
    })
    sweep.check()
  })

  t.test('runtime revocation with the openai SDK (default fetch and keyguard.fetch) and a reply-from proxy', async (t) => {
    const key = canary()
    const sweep = new Sweep(t, key)
    const { app, logs } = await appWith(keyOf(() => stub.set('auth', { keys: [key] }), key, { probe: { ...PROBE, timeout: 2_000 } }))
    const chat = (fetchImpl?: typeof fetch): Promise<unknown> => new OpenAI({ apiKey: app.keyguard.key(), baseURL: stub.url + CHAT, maxRetries: 0, ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }) })
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    app.post('/sdk', async () => chat())
    app.post('/sdk-watched', async () => chat(app.keyguard.fetch))
    await app.register(replyFrom, { base: stub.url, undici: app.keyguard.dispatcher })
    app.post('/proxy/*', (req, reply) => reply.from(CHAT + '/' + (req.params as Record<string, string>)['*'], {
      rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: `Bearer ${app.keyguard.key()}` })
    }))
    await app.ready()
    t.equal(app.keyguard.report().status, 'pass')
    echoing(stub, 401, key)
    for (const url of ['/sdk', '/sdk-watched', '/proxy/chat/completions']) {
      const res = await app.inject({ method: 'POST', url, payload: { model: 'm' } })
      t.equal(res.statusCode, 502, url)
      sweep.response(url, res)
    }
    await app.keyguard.recheck()
    t.equal(app.keyguard.report().checks.fireworks?.cause, 'rejected', 'the recheck confirmed the revocation')
    await sweep.app(app, logs)
    await app.close()
    sweep.logs(logs)
    sweep.check()
  })

  t.test('library errors that echo secrets: undici header validation, fetch Headers.append, fetch URL credentials (faults #3 #16 #75)', async (t) => {
    const key = canary()
    const sweep = new Sweep(t, key)
    const { app, logs } = await appWith(keyOf(() => stub.set('auth', { keys: [key] }), key))
    const target = stub.url + CHAT + '/models'
    app.get('/undici-crlf', async () => (await request(target, { dispatcher: app.keyguard.dispatcher, headers: { authorization: `Bearer ${app.keyguard.key()}\r\nX-Evil: 1` } })).body.text())
    app.get('/fetch-crlf', async () => (await app.keyguard.fetch(target, { headers: { authorization: `Bearer ${app.keyguard.key()}\r\nX-Evil: 1` } })).text())
    app.get('/global-fetch-crlf', async () => (await fetch(target, { headers: { authorization: `Bearer ${app.keyguard.key()}\r\nX-Evil: 1` } })).text())
    app.get('/fetch-userinfo', async () => (await app.keyguard.fetch(target.replace('http://', `http://user:${app.keyguard.key()}@`))).text())
    app.get('/global-fetch-userinfo', async () => (await fetch(target.replace('http://', `http://user:${app.keyguard.key()}@`))).text())
    await app.ready()
    for (const url of ['/undici-crlf', '/fetch-crlf', '/global-fetch-crlf', '/fetch-userinfo', '/global-fetch-userinfo']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 500, url)
      // The default error handler sends the message: keyguard's onError scrubbed the key out of it first.
      if (url !== '/undici-crlf') t.match(res.json().message, /\[REDACTED\]/, `${url}: the message is kept, the key replaced`)
      sweep.response(url, res)
    }
    await sweep.app(app, logs)
    await app.close()
    sweep.check()
  })

  t.test('a _FILE source rotated twice (valid → valid → rejected)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'keyguard-canary-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'key')
    const [first, second, third] = [canary(), canary(), canary()]
    const write = (text: string): void => {
      writeFileSync(file + '.tmp', text)
      renameSync(file + '.tmp', file)
    }
    write(first + '\n')
    const sweep = new Sweep(t, first, second, third)
    stub.set('auth', { keys: [first, second] })
    await boot(sweep, { keys: [{ provider: 'fireworks', baseUrl: stub.url }], env: { FIREWORKS_API_KEY_FILE: file }, probe: PROBE }, {}, async (app) => {
      write(second)
      sweep.add('recheck() 1', JSON.stringify(await app.keyguard.recheck()))
      t.equal(stub.lastKey(), second, 'the rotated key was probed')
      write(third + '\r\n')
      sweep.add('recheck() 2', JSON.stringify(await app.keyguard.recheck()))
      t.equal(app.keyguard.report().checks.fireworks?.cause, 'valid', 'the refused third key does not replace the working second one')
      stub.set('auth', { keys: [] })
      sweep.add('recheck() 3', JSON.stringify(await app.keyguard.recheck()))
      t.equal(app.keyguard.report().checks.fireworks?.cause, 'rejected')
    })
    sweep.check()
  })

  t.test('the CLI: main in-process and the real binary, human and --json', async (t) => {
    await ensureBuilt()
    const good = canary()
    const bad = canary()
    const broken = `${canary()}\r\nX-Evil: 1`
    const sweep = new Sweep(t, good, bad, broken)
    for (const [key, mode] of [[good, 'ok'], [bad, 'echo'], [broken, 'ok']] as const) {
      for (const json of [[], ['--json']]) {
        if (mode === 'ok') stub.set('auth', { keys: [good] })
        else echoing(stub, 401, key)
        const args = ['check', 'fireworks', '--base-url', stub.url, '--timeout', '2000', ...json]
        const io = memoryIo({ FIREWORKS_API_KEY: key })
        const code = await main(args, io)
        sweep.add(`main ${json.join('')} stdout`, io.out())
        sweep.add(`main ${json.join('')} stderr`, io.err())
        const run = await runCli(args, { FIREWORKS_API_KEY: key })
        t.equal(run.code, code, 'the binary exits as main resolves')
        sweep.add(`binary ${json.join('')} stdout`, run.stdout)
        sweep.add(`binary ${json.join('')} stderr`, run.stderr)
      }
    }
    sweep.check()
  })
})
