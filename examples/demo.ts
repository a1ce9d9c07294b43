/**
 * `npm run demo`: fastify-keyguard end to end, against a stand-in for the Fireworks AI API on
 * 127.0.0.1. No network, no real key, nothing to set up. Every HTTP exchange is printed; keys never
 * are (only fingerprints such as fw_…1111).
 *
 *   (a) a good key: the server boots, /readyz 200
 *   (b) a revoked key: listen() rejects with FST_KEYGUARD_BOOT_REFUSED, cause and fix
 *   (c) the same key with onInvalid: 'degrade': /readyz 503, /livez 200, a gated route 503 problem+json
 *   (d) the key is revoked while the server runs: an openai-node call gets 401, the client a 502 problem
 *   (e) the key is rotated (the mounted secret file is rewritten): recheck() heals it, /readyz 200
 *   (f) a key with a zero-width space: refused offline, the stand-in never sees it
 *   (g) the causes users hit most, one short scene each: an unset variable with a near name, quotes kept by
 *       docker run --env-file, a trailing newline in a secret file, a `Bearer ` prefix
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { STATUS_CODES } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import OpenAI from 'openai'
import { Agent, request } from 'undici'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard, { fingerprint } from '../index.js'
import type { BootRefusedError, FastifyKeyguardOptions } from '../index.js'
import { startStandIn, SYNTHETIC_KEYS } from './stand-in.js'

const started = performance.now()
const bold = (text: string): string => process.stdout.isTTY === true ? `\x1b[1m${text}\x1b[0m` : text
const dim = (text: string): string => process.stdout.isTTY === true ? `\x1b[2m${text}\x1b[0m` : text
const say = (text = ''): void => { process.stdout.write(text + '\n') }
const indent = (text: string, by: string): string => text.split('\n').map((line) => by + line).join('\n')
const fp = (key: string): string => fingerprint(key, ['fw_'])

function heading (title: string): void {
  say()
  say(bold(`━━ ${title} ━━`))
}

const standIn = await startStandIn((line) => say(dim(`  stand-in  ${line}`)))
const MODEL = 'accounts/fireworks/models/llama-v3p1-8b-instruct'
const client = new Agent()
const temp = await mkdtemp(join(tmpdir(), 'keyguard-demo-'))

say(bold('fastify-keyguard demo'))
say(`A stand-in for the Fireworks AI API listens on ${standIn.url}: loopback only, no network,`)
say('no real key. Keys are synthetic, and only their fingerprints are printed (fw_…1111).')
say(dim('Lines: "client" = an HTTP client of our server, "stand-in" = what the provider stand-in received,'))
say(dim('"log" = fastify-keyguard\'s own log lines (the app logger at info level, keyguard lines only).'))

/** The application: keyguard with the key read from `env` (an explicit object, not process.env), and a gated route that calls the provider through openai-node. */
async function build (env: Record<string, string | undefined>, options: Partial<FastifyKeyguardOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: 'info',
      stream: {
        write (line: string) {
          const { level, msg } = JSON.parse(line) as { level: number, msg: string }
          if (msg.startsWith('fastify-keyguard:')) say(`  log       [${level >= 50 ? 'error' : level >= 40 ? 'warn' : 'info'}] ${msg}`)
        }
      }
    }
  })
  await app.register(keyguard, {
    keys: [{ provider: 'fireworks', baseUrl: standIn.url }],
    env,
    ...options
  })
  app.post('/chat', { config: { keyguard: 'fireworks' } }, async () => {
    const openai = new OpenAI({
      apiKey: app.keyguard.key('fireworks'),
      baseURL: `${standIn.url}/inference/v1`,
      fetch: app.keyguard.fetch // keyguard sees the upstream's 401 as it happens
    })
    const completion = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hello' }] })
    return { answer: completion.choices[0]?.message.content }
  })
  return app
}

async function listen (app: FastifyInstance): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  say(`  ✓ listen() resolved: the server takes traffic on ${address}`)
  return address
}

const SHOWN_HEADERS = ['content-type', 'cache-control', 'retry-after']

/** One client exchange with our server, printed: request line, status, key headers, body. */
async function call (base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number, headers: Record<string, string>, text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  say(`  client  → ${method} ${path}${payload === undefined ? '' : `  ${payload}`}`)
  const res = await request(base + path, {
    method,
    dispatcher: client,
    ...(payload === undefined ? {} : { body: payload, headers: { 'content-type': 'application/json' } })
  })
  const text = await res.body.text()
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = String(value)
  say(`  client  ← ${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`)
  for (const name of SHOWN_HEADERS) if (headers[name] !== undefined) say(`            ${name}: ${headers[name]}`)
  let shown = text
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2)
  } catch {}
  say(indent(shown, '            '))
  return { status: res.statusCode, headers, text }
}

/** Waits for `test` to hold, checking every 10 ms, at most `ms`. */
async function until (test: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms
  while (!test()) {
    if (performance.now() > end) throw new Error(`the demo waited ${ms} ms for a state that did not come`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function expect (condition: boolean, what: string): void {
  if (!condition) throw new Error(`demo expectation failed: ${what}`)
  say(`  ✓ ${what}`)
}

try {
  // (a) ------------------------------------------------------------------------------------------
  heading('(a) A good key: the live probe passes during onReady, the server boots and is ready')
  standIn.accept(SYNTHETIC_KEYS.good)
  say(`  register(keyguard, { keys: [{ provider: 'fireworks', baseUrl: '${standIn.url}' }], env })`)
  say(`  env = { FIREWORKS_API_KEY: <${fp(SYNTHETIC_KEYS.good)}> }`)
  const a = await build({ FIREWORKS_API_KEY: SYNTHETIC_KEYS.good })
  const aBase = await listen(a)
  expect((await call(aBase, 'GET', '/readyz')).status === 200, '/readyz answers 200 pass: the orchestrator may route traffic here')
  await a.close()

  // (b) ------------------------------------------------------------------------------------------
  heading('(b) A revoked key, onInvalid: \'refuse\' (the default): the boot is refused')
  say(`  env = { FIREWORKS_API_KEY: <${fp(SYNTHETIC_KEYS.revoked)}> }  (the provider no longer accepts it)`)
  const b = await build({ FIREWORKS_API_KEY: SYNTHETIC_KEYS.revoked })
  try {
    await b.listen({ port: 0, host: '127.0.0.1' })
    throw new Error('demo expectation failed: listen() should have rejected')
  } catch (err) {
    const refused = err as BootRefusedError
    if (refused.code !== 'FST_KEYGUARD_BOOT_REFUSED') throw err
    say(`  ✗ listen() rejected; no port was opened. ${refused.name} [${refused.code}]:`)
    say(indent(refused.message, '      '))
    say(`  err.checks[0] = { cause: '${refused.checks[0]?.cause}', reason: '${refused.checks[0]?.reason}', httpStatus: ${refused.checks[0]?.httpStatus}, fingerprint: '${refused.checks[0]?.fingerprint}' }`)
  }
  await b.close()

  // (c) ------------------------------------------------------------------------------------------
  heading('(c) The same revoked key with onInvalid: \'degrade\': boot, but report not ready')
  say('  register(keyguard, { …, onInvalid: \'degrade\' })')
  const c = await build({ FIREWORKS_API_KEY: SYNTHETIC_KEYS.revoked }, { onInvalid: 'degrade' })
  const cBase = await listen(c)
  expect((await call(cBase, 'GET', '/readyz')).status === 503, '/readyz answers 503: out of the Service\'s endpoints, no traffic')
  expect((await call(cBase, 'GET', '/livez')).status === 200, '/livez answers 200: liveness never depends on a key, so no restart storm')
  say('  POST /chat is declared with config: { keyguard: \'fireworks\' }:')
  const gated = await call(cBase, 'POST', '/chat', { prompt: 'Say hello' })
  expect(gated.status === 503 && gated.headers['content-type']?.startsWith('application/problem+json') === true && gated.headers['retry-after'] !== undefined,
    'the gated route answers 503 application/problem+json with Retry-After; its handler never ran')
  await c.close()

  // (d) ------------------------------------------------------------------------------------------
  heading('(d) The key is revoked while the server runs')
  const secret = join(temp, 'fireworks-api-key')
  await writeFile(secret, SYNTHETIC_KEYS.good)
  say(`  The key is a mounted secret file: env = { FIREWORKS_API_KEY_FILE: '${secret}' } (holding <${fp(SYNTHETIC_KEYS.good)}>)`)
  const d = await build({ FIREWORKS_API_KEY_FILE: secret }, { onInvalid: 'degrade' })
  const dBase = await listen(d)
  say('  The route calls the provider with openai-node: new OpenAI({ apiKey: app.keyguard.key(\'fireworks\'), baseURL, fetch: app.keyguard.fetch })')
  expect((await call(dBase, 'POST', '/chat', { prompt: 'Say hello' })).status === 200, 'the route works')
  say(`  Someone revokes <${fp(SYNTHETIC_KEYS.good)}> in the provider's dashboard.`)
  standIn.revoke(SYNTHETIC_KEYS.good)
  const converted = await call(dBase, 'POST', '/chat', { prompt: 'Say hello' })
  expect(converted.status === 502 && converted.headers['content-type']?.startsWith('application/problem+json') === true,
    'the SDK threw AuthenticationError (401); the client got 502 problem+json: the server\'s credentials failed, not the client\'s')
  expect(!converted.text.includes('API key you provided'), 'none of the upstream\'s text reached the client')
  say('  The 401 also made keyguard recheck the key at once (rate-limited, singleflight):')
  await until(() => d.keyguard.report().checks.fireworks?.cause === 'rejected', 3_000)
  expect((await call(dBase, 'GET', '/readyz')).status === 503, 'readiness flipped to 503 without waiting for the 10-minute recheck')

  // (e) ------------------------------------------------------------------------------------------
  heading('(e) The key is rotated: the secret file is rewritten, and recheck() heals it')
  standIn.accept(SYNTHETIC_KEYS.rotated)
  await writeFile(secret, SYNTHETIC_KEYS.rotated)
  say(`  ${secret} now holds <${fp(SYNTHETIC_KEYS.rotated)}>; no restart.`)
  say('  await app.keyguard.recheck()  (the recheck timer would do the same on its own, with backoff)')
  const healed = await d.keyguard.recheck()
  say(`  → report().status = '${healed.status}', checks.fireworks = { cause: '${healed.checks.fireworks?.cause}', fingerprint: '${healed.checks.fireworks?.fingerprint}' }`)
  expect((await call(dBase, 'GET', '/readyz')).status === 200, 'readiness is back to 200')
  expect((await call(dBase, 'POST', '/chat', { prompt: 'Say hello' })).status === 200, 'the route works again, with the new key')
  await d.close()

  // (f) ------------------------------------------------------------------------------------------
  heading('(f) A key pasted with a zero-width space: refused offline, never sent')
  say('  env = { FIREWORKS_API_KEY: <a key with U+200B after its 16th character> }')
  const hitsBefore = standIn.hits
  const f = await build({ FIREWORKS_API_KEY: SYNTHETIC_KEYS.zeroWidth })
  try {
    await f.ready()
    throw new Error('demo expectation failed: ready() should have rejected')
  } catch (err) {
    const refused = err as BootRefusedError
    if (refused.code !== 'FST_KEYGUARD_BOOT_REFUSED') throw err
    say(`  ✗ ready() rejected. ${refused.name} [${refused.code}]:`)
    say(indent(refused.message, '      '))
  }
  await f.close()
  expect(standIn.hits === hitsBefore, `the stand-in received ${standIn.hits - hitsBefore} requests: the malformed key never left the process`)

  // (g) ------------------------------------------------------------------------------------------
  heading('(g) The causes users hit most: keyguard names the variable, the cause and the fix')
  const good = SYNTHETIC_KEYS.rotated // the key the provider accepts now
  const newline = join(temp, 'fireworks-api-key-newline')
  await writeFile(newline, good + '\n') // what `echo "$KEY" > file` writes
  const scenes: Array<[string, Record<string, string>, string]> = [
    ['The variable is set under another name', { FIREWORKS_KEY: good }, 'env = { FIREWORKS_KEY: <key> }'],
    ['docker run --env-file keeps quotes', { FIREWORKS_API_KEY: `"${good}"` }, 'env = { FIREWORKS_API_KEY: "<key>" } (quotes included)'],
    ['A secret file with a trailing newline', { FIREWORKS_API_KEY_FILE: newline }, `env = { FIREWORKS_API_KEY_FILE: '${newline}' } (<key> + "\\n")`],
    ['A Bearer prefix pasted with the key', { FIREWORKS_API_KEY: `Bearer ${good}` }, 'env = { FIREWORKS_API_KEY: Bearer <key> }']
  ]
  for (const [title, env, shown] of scenes) {
    say(`  ${bold(title)}: ${shown}`)
    const hits = standIn.hits
    const app = await build(env)
    const booted = await app.ready().then(() => true, (err: BootRefusedError) => {
      if (err.code !== 'FST_KEYGUARD_BOOT_REFUSED') throw err
      return false
    })
    // keyguard's own log line above told why; the refusal is not printed a second time.
    say(booted
      ? `  ✓ ready() resolved: the key was cleaned and works (${standIn.hits - hits} probe)`
      : `  ✗ ready() rejected with FST_KEYGUARD_BOOT_REFUSED; ${standIn.hits - hits} requests reached the stand-in`)
    await app.close()
  }

  say()
  say(bold(`Done in ${Math.round(performance.now() - started)} ms. Everything ran on 127.0.0.1; no key was printed.`))
} finally {
  await client.close()
  await standIn.close()
  await rm(temp, { recursive: true, force: true })
}
