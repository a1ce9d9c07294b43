import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'
import { Agent, request } from 'undici'
import { leaks, leaksAny } from './helpers/leak.js'
import { stubFor } from './helpers/stub.js'

// Each runnable example, started as its own process (node --import tsx) with an explicit environment
// (never this process's: no real key can leak in), pointed at the loopback stub.

const root = fileURLToPath(new URL('..', import.meta.url))
const BOOT = 20_000 // a cold tsx start of a file that imports openai can take a few seconds on a loaded machine
const FLIP = 5_000

// Synthetic keys in the providers' shapes; none was ever valid anywhere.
const FW = 'fw_Ex4mpleSmokeKeyNotReal0001'
const FW_ROTATED = 'fw_Ex4mpleSmokeKeyRotated0002'
const ACME = 'acme_Ex4mpleSmokeKeyNotReal000003'

const agent = new Agent()
t.teardown(() => agent.close())

interface Child {
  url: string
  output: () => string
  signal: (name: NodeJS.Signals) => void
  /** Sends SIGTERM and resolves to the exit code. */
  stop: () => Promise<number | null>
}

/** Starts an example and resolves once it logs where it listens; rejects if it exits first. */
function start (t: Test, file: string, env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', join('examples', file)], {
    cwd: root,
    // No coverage from the child: tsx maps lib/*.ts onto other ranges than tap's loader, corrupting the merge.
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not listen within ${BOOT} ms:\n${output}`)), BOOT)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url === undefined) return
      clearTimeout(timer)
      child.stdout.off('data', onData)
      child.stdout.on('data', (more: Buffer) => { output += more.toString() })
      resolve({
        url,
        output: () => output,
        signal: (name) => { child.kill(name) },
        stop: () => {
          child.kill('SIGTERM')
          return exited
        }
      })
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    exited.then((code) => {
      clearTimeout(timer)
      reject(Object.assign(new Error(`${file} exited with ${code} before listening:\n${output}`), { exitCode: code, output }))
    }, () => {})
  })
}

/** Runs an example that is expected to exit on its own; resolves to its exit code and output. */
function run (t: Test, file: string, env: Record<string, string>): Promise<{ code: number | null, output: string }> {
  return start(t, file, env).then(
    async (child) => {
      await child.stop()
      throw new Error(`${file} should not have listened:\n${child.output()}`)
    },
    (err: Error & { exitCode?: number | null, output?: string }) => {
      if (err.output === undefined) throw err
      return { code: err.exitCode ?? null, output: err.output }
    }
  )
}

async function call (base: string, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, type: string, headers: Record<string, string | string[] | undefined>, text: string, json: () => Record<string, unknown> }> {
  const res = await request(base + path, {
    method,
    dispatcher: agent,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? null : JSON.stringify(body),
    headersTimeout: FLIP,
    bodyTimeout: FLIP
  })
  const text = await res.body.text()
  return { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }
}

/** Polls `path` every 20 ms until it answers `status`, at most `FLIP` ms. */
async function until (base: string, path: string, status: number): Promise<number> {
  const end = performance.now() + FLIP
  let last = 0
  while (performance.now() < end) {
    last = (await call(base, 'GET', path)).status
    if (last === status) return last
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return last
}

t.test('basic.ts boots with a working key and answers /readyz 200', async (t) => {
  const s = await stubFor(t, { keys: [FW] })
  const app = await start(t, 'basic.ts', { FIREWORKS_API_KEY: FW, FIREWORKS_BASE_URL: s.url })
  const ready = await call(app.url, 'GET', '/readyz')
  t.equal(ready.status, 200)
  t.match(ready.type, /^application\/health\+json/)
  t.equal(ready.json().status, 'pass')
  t.equal((await call(app.url, 'GET', '/')).status, 200)
  t.equal(await app.stop(), 0, 'exits 0 on SIGTERM')
  t.same(leaks(app.output(), FW), [], 'the log holds no piece of the key')
})

t.test('basic.ts refuses to boot with a revoked key and exits 1', async (t) => {
  const s = await stubFor(t, { keys: [] })
  const { code, output } = await run(t, 'basic.ts', { FIREWORKS_API_KEY: FW, FIREWORKS_BASE_URL: s.url })
  t.equal(code, 1)
  // Issue 16: told once, by keyguard's line for the key; the refusal itself is not logged again.
  t.equal(output.split('Fireworks AI rejected FIREWORKS_API_KEY').length, 2, 'the story once')
  t.match(output, /"level":50,.*"cause":"rejected".*Fix: Create a new Fireworks AI key/)
  t.equal(s.hits, 1, 'one probe, no retry of a 401')
  t.same(leaks(output, FW), [], 'the log holds no piece of the key')
})

t.test('degrade.ts boots not ready, gates its route, and heals on SIGHUP after the secret file is rewritten', async (t) => {
  const s = await stubFor(t, { keys: [] })
  const dir = t.testdir({ 'api-key': FW + '\n' })
  const file = join(dir, 'api-key')
  const app = await start(t, 'degrade.ts', { FIREWORKS_API_KEY_FILE: file, FIREWORKS_BASE_URL: s.url })

  t.equal((await call(app.url, 'GET', '/readyz')).status, 503, 'not ready')
  t.equal((await call(app.url, 'GET', '/livez')).status, 200, 'still live')
  t.equal((await call(app.url, 'GET', '/hello')).status, 200, 'an ungated route works')
  const hitsBefore = s.hits
  const gated = await call(app.url, 'POST', '/summarize', { text: 'Some text.' })
  t.equal(gated.status, 503)
  t.match(gated.type, /^application\/problem\+json/)
  t.match(gated.headers['retry-after'], /^\d+$/)
  t.match(gated.json(), { status: 503, code: 'FST_KEYGUARD_KEY_FAILING', key: 'fireworks' })
  t.ok(s.requests.slice(hitsBefore).every((r) => !r.path.includes('/chat/completions')), 'the handler did not run')

  s.set('auth', { keys: [FW_ROTATED] })
  await writeFile(file, FW_ROTATED + '\n')
  app.signal('SIGHUP')
  t.equal(await until(app.url, '/readyz', 200), 200, 'ready again after the rotation')
  const ok = await call(app.url, 'POST', '/summarize', { text: 'Some text.' })
  t.equal(ok.status, 200)
  t.equal(s.lastKey(), FW_ROTATED, 'the route uses the rotated key')

  s.set('auth', { keys: [] })
  const revoked = await call(app.url, 'POST', '/summarize', { text: 'Some text.' })
  t.equal(revoked.status, 502, 'reply.upstreamUnauthorized() answers 502')
  t.match(revoked.type, /^application\/problem\+json/)
  t.match(revoked.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'fireworks' })
  t.equal(await until(app.url, '/readyz', 503), 503, 'readiness follows')

  t.equal(await app.stop(), 0)
  t.notOk(leaksAny(app.output(), [FW, FW_ROTATED]), 'the log holds no piece of either key')
})

t.test('openai-sdk.ts: the SDK\'s upstream 401 becomes a 502 problem and readiness flips', async (t) => {
  const s = await stubFor(t, { keys: [FW] })
  const app = await start(t, 'openai-sdk.ts', { FIREWORKS_API_KEY: FW, FIREWORKS_BASE_URL: s.url })
  t.equal((await call(app.url, 'GET', '/readyz')).status, 200)
  const ok = await call(app.url, 'POST', '/chat', { prompt: 'Say hello' })
  t.equal(ok.status, 200)
  t.same(ok.json(), { answer: 'hello' })

  s.set('auth', { keys: [] })
  const res = await call(app.url, 'POST', '/chat', { prompt: 'Say hello' })
  t.equal(res.status, 502)
  t.match(res.type, /^application\/problem\+json/)
  t.match(res.json(), { status: 502, code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'fireworks', provider: 'fireworks' })
  t.notMatch(res.text, /Incorrect API key|api-keys/, 'none of the upstream text')
  t.same(leaks(res.text, FW), [], 'no piece of the key')
  t.equal(res.headers['set-cookie'], undefined, 'no upstream header')
  t.equal(await until(app.url, '/readyz', 503), 503, 'readiness flips without waiting for the timer')
  t.equal(await app.stop(), 0)
  t.same(leaks(app.output(), FW), [], 'the log holds no piece of the key')
})

t.test('proxy.ts: sends the server\'s key, and turns the provider\'s 401 into a 502 problem', async (t) => {
  const s = await stubFor(t, { keys: [FW] })
  const app = await start(t, 'proxy.ts', { FIREWORKS_API_KEY: FW, FIREWORKS_BASE_URL: s.url })
  t.equal((await call(app.url, 'GET', '/readyz')).status, 200)
  const body = { model: 'accounts/fireworks/models/llama-v3p1-8b-instruct', messages: [{ role: 'user', content: 'Hi' }] }
  const ok = await call(app.url, 'POST', '/v1/chat/completions', body, { authorization: 'Bearer client-session-token', cookie: 'sid=1' })
  t.equal(ok.status, 200)
  t.match(ok.json(), { object: 'chat.completion' })
  const sent = s.requests.at(-1)
  t.equal(sent?.path, '/inference/v1/chat/completions')
  t.equal(s.lastKey(), FW, 'the provider got the server\'s key, not the client\'s token')
  t.equal(sent?.headers.cookie, undefined, 'the client\'s cookie is not forwarded')

  s.set('auth', { keys: [] })
  const res = await call(app.url, 'POST', '/v1/chat/completions', body)
  t.equal(res.status, 502)
  t.match(res.type, /^application\/problem\+json/)
  t.match(res.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'fireworks' })
  t.notMatch(res.text, /Incorrect API key/, 'none of the upstream text')
  t.equal(res.headers['www-authenticate'], undefined, 'the upstream challenge is not passed on')
  t.equal(await until(app.url, '/readyz', 503), 503)
  t.equal(await app.stop(), 0)
})

t.test('custom-provider.ts boots with a ProviderSpec keyguard does not ship', async (t) => {
  const s = await stubFor(t, { keys: [ACME] })
  const app = await start(t, 'custom-provider.ts', { ACME_API_KEY: ACME, ACME_BASE_URL: s.url })
  const probe = s.requests[0]
  t.equal(probe?.path, '/v1/models')
  t.equal(probe?.headers['x-api-key'], ACME, 'the key went in the spec\'s header')
  t.equal(probe?.headers.authorization, undefined)
  t.equal(probe?.headers['acme-version'], '2025-01-01')
  const ready = await call(app.url, 'GET', '/readyz?verbose')
  t.equal(ready.status, 200)
  t.match(ready.json(), { status: 'pass', checks: { 'acme:apiKey': [{ componentId: 'acme', status: 'pass' }] } })
  t.equal((await call(app.url, 'GET', '/models')).status, 200)
  s.set('auth', { keys: [] })
  const res = await call(app.url, 'GET', '/models')
  t.equal(res.status, 502)
  t.match(res.json(), { code: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', key: 'acme', provider: 'acme' })
  t.equal(await app.stop(), 0)
  t.same(leaks(app.output(), ACME), [], 'the log holds no piece of the key')
})
