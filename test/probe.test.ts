import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Agent } from 'undici'
import type { Dispatcher } from 'undici'
import { BODY_CAP, probe, probeUrl, Stop } from '../lib/core/probe.js'
import { sleep } from '../lib/core/schedule.js'
import { RETRY_AFTER_CAP } from '../lib/core/retry-after.js'
import { providers } from '../lib/providers/index.js'
import { stubFor } from './helpers/stub.js'
import { render, settings, via } from './helpers/probe.js'

const KEY = 'sk-proj-SYNTHETICtestkey0000000000000000000000'
const openai = providers.openai

/** Both transports: node:http(s) by default, and an injected undici Agent. */
function transports (t: Test): Array<[string, Dispatcher | undefined]> {
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  return [['node:http', undefined], ['undici Agent', agent]]
}

test('faults #33: a 200 with the expected JSON is valid, with latency and request id', async (t) => {
  const stub = await stubFor(t, { mode: 'ok', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher))
    t.equal(verdict.cause, 'valid', name)
    t.equal(verdict.reason, 'ok')
    t.equal(verdict.httpStatus, 200)
    t.equal(verdict.requestId, 'req_stub_1')
    t.type(verdict.latencyMs, 'number')
    render(t, verdict, openai, KEY)
  }
  t.equal(stub.hits, 2)
})

test('faults #98: the probe is a GET without a body, asks for identity encoding and carries the key in its header', async (t) => {
  const stub = await stubFor(t, { mode: 'ok', keys: [KEY] })
  for (const [, dispatcher] of transports(t)) {
    await probe(stub.url, openai, KEY, via(dispatcher, { userAgent: 'keyguard-test' }))
    const req = stub.requests.at(-1)
    t.equal(req?.method, 'GET')
    t.equal(req?.path, '/v1/models')
    t.equal(req?.body, '')
    t.notOk(req?.headers['transfer-encoding'])
    t.notOk(Number(req?.headers['content-length'] ?? 0))
    t.equal(req?.headers['accept-encoding'], 'identity')
    t.equal(req?.headers['user-agent'], 'keyguard-test')
    t.equal(req?.headers.authorization, `Bearer ${KEY}`)
    t.equal(stub.lastKey(), KEY)
  }
})

test('faults #98: Cohere is probed with POST {} to check-api-key', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const key = 'a'.repeat(40)
  stub.options.keys = [key]
  const verdict = await probe(stub.url, providers.cohere, key, settings())
  t.equal(verdict.cause, 'valid')
  const req = stub.requests[0]
  t.equal(req?.method, 'POST')
  t.equal(req?.path, '/v1/check-api-key')
  t.equal(req?.body, '{}')
  t.match(req?.headers['content-type'], /application\/json/)
})

test('faults #34: a 401 with a JSON body is rejected, without the upstream text', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const bad = 'sk-proj-SYNTHETICrevoked0000000000000000000'
  for (const [name, dispatcher] of transports(t)) {
    const verdict = await probe(stub.url, openai, bad, via(dispatcher))
    t.equal(verdict.cause, 'rejected', name)
    t.equal(verdict.reason, 'unauthorized')
    t.equal(verdict.httpStatus, 401)
    const { message, fix } = render(t, verdict, openai, bad, ['Incorrect API key', 'sk-proj-****', 'upstream_session'])
    t.match(message, /HTTP 401/)
    t.match(fix, /platform\.openai\.com/)
  }
})

test('faults #35: a 401 as text, HTML, empty or lying JSON is still rejected', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const mode of ['401text', '401html', '401empty', '401lying', '401json'] as const) {
    stub.set(mode)
    for (const [name, dispatcher] of transports(t)) {
      const verdict = await probe(stub.url, openai, KEY, via(dispatcher))
      t.equal(verdict.cause, 'rejected', `${mode} via ${name}`)
      render(t, verdict, openai, KEY, ['Authorization Required', 'openresty', 'not json'])
    }
  }
})

test('faults #36: a 403 from the API is forbidden; a Cloudflare HTML 403 is not a key verdict', async (t) => {
  const stub = await stubFor(t, { mode: '403json', keys: [KEY] })
  let verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.cause, 'forbidden')
  t.equal(verdict.reason, 'forbidden')
  render(t, verdict, openai, KEY, ['not allowed'])
  stub.set('403waf')
  verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.cause, 'unreachable')
  t.equal(verdict.reason, 'cdn')
  t.match(render(t, verdict, openai, KEY, ['Ray ID', 'Attention']).message, /CDN or firewall/)
  // An HTML 403 marked only by its body still comes from the CDN.
  stub.set('custom', { status: 403, contentType: 'text/html', body: '<html><title>Access denied</title><body>Request blocked by the web application firewall</body></html>' })
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'cdn')
})

test('faults #37: a 429 is limited, and its Retry-After is kept (capped)', async (t) => {
  const stub = await stubFor(t, { mode: '429', keys: [KEY], retryAfter: '2' })
  const verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.cause, 'limited')
  t.equal(verdict.reason, 'rate-limited')
  t.equal(verdict.retryAfterMs, 2000)
  render(t, verdict, openai, KEY)
  stub.set('429', { retryAfter: '999999' })
  t.equal((await probe(stub.url, openai, KEY, settings())).retryAfterMs, RETRY_AFTER_CAP)
  stub.set('429', { retryAfter: '1.5' })
  t.equal((await probe(stub.url, openai, KEY, settings())).retryAfterMs, undefined)
})

test('faults #38: every Retry-After form reaches the verdict through a real answer', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  // The stub's own Date header is the base, so a skewed local clock would not matter.
  const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 30_000)
  const imf = at.toUTCString()
  const [wd, dd, mon, yyyy, hms] = imf.split(' ') as [string, string, string, string, string]
  const long = { Sun: 'Sunday', Mon: 'Monday', Tue: 'Tuesday', Wed: 'Wednesday', Thu: 'Thursday', Fri: 'Friday', Sat: 'Saturday' }[wd.slice(0, 3)] as string
  const forms = {
    imf,
    rfc850: `${long}, ${dd}-${mon}-${yyyy.slice(2)} ${hms} GMT`,
    asctime: `${wd.slice(0, 3)} ${mon} ${String(Number(dd)).padStart(2, ' ')} ${hms} ${yyyy}`
  }
  for (const [form, value] of Object.entries(forms)) {
    stub.set('429', { retryAfter: value })
    const ms = (await probe(stub.url, openai, KEY, settings())).retryAfterMs as number
    t.ok(ms >= 28_000 && ms <= 31_000, `${form}: ${ms} ms`)
  }
  stub.set('429', { retryAfter: 'Thu, 01 Jan 2015 00:00:00 GMT' })
  t.equal((await probe(stub.url, openai, KEY, settings())).retryAfterMs, 0, 'a past date is now')
  for (const junk of ['0x10', '1e3', '-3', 'Infinity', '']) {
    stub.set('429', { retryAfter: junk })
    t.equal((await probe(stub.url, openai, KEY, settings())).retryAfterMs, undefined, `junk ${JSON.stringify(junk)}`)
  }
})

test('faults #46: a 402 is limited (billing), never rejected', async (t) => {
  const stub = await stubFor(t, { mode: '402', keys: [KEY] })
  const verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.cause, 'limited')
  t.equal(verdict.reason, 'billing')
  render(t, verdict, openai, KEY, ['Payment required'])
})

test('faults #39: 5xx answers are retried, with the retries visible on the stub', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const mode of ['500', '502', '503'] as const) {
    stub.set(mode, { retryAfter: '0' })
    const before = stub.hits
    const verdict = await probe(stub.url, openai, KEY, settings({ retries: 2 }))
    t.equal(verdict.cause, 'unreachable', mode)
    t.equal(verdict.reason, 'server-error')
    t.equal(stub.hits - before, 3, `${mode}: one attempt and two retries`)
    render(t, verdict, openai, KEY, ['Overloaded', 'Bad gateway', 'deployed'])
  }
  // A 5xx that recovers: the retry gets the answer.
  stub.set('500')
  const recovering = probe(stub.url, openai, KEY, settings({ retries: 2, random: () => 0.5 }))
  await sleep(20, new AbortController().signal)
  stub.set('auth')
  t.equal((await recovering).cause, 'valid')
})

test('faults #40: a Cloudflare 52x HTML page is unreachable (cdn) and retried', async (t) => {
  const stub = await stubFor(t, { mode: 'cf52x', keys: [KEY] })
  const verdict = await probe(stub.url, openai, KEY, settings({ retries: 1 }))
  t.equal(verdict.cause, 'unreachable')
  t.equal(verdict.reason, 'cdn')
  t.equal(verdict.httpStatus, 522)
  t.equal(stub.hits, 2)
  render(t, verdict, openai, KEY, ['timed out', 'Ray ID'])
})

test('faults #41: a redirect to another origin is never followed, so the key never reaches it', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const other = await stubFor(t, { mode: 'ok', keys: [KEY] })
  const target = other.url.replace('127.0.0.1', 'localhost')
  for (const status of [301, 302, 307, 308]) {
    stub.set('redirect', { status, location: `${target}/v1/models?next=1` })
    for (const [name, dispatcher] of transports(t)) {
      const verdict = await probe(stub.url, openai, KEY, via(dispatcher))
      t.equal(verdict.cause, 'unreachable', `${status} via ${name}`)
      t.equal(verdict.reason, 'redirect')
      t.equal(verdict.facts?.target, new URL(target).origin)
      const { message } = render(t, verdict, openai, KEY, ['next=1'])
      t.match(message, /not followed/)
    }
  }
  stub.set('redirect', { status: 302, location: 'http://[not a url' })
  t.equal((await probe(stub.url, openai, KEY, settings())).facts?.target, undefined)
  stub.set('custom', { status: 303, contentType: null })
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'redirect', 'a redirect without Location')
  t.equal(other.hits, 0, 'the other origin saw nothing')
})

test('faults #42: a 404 or 405 on the probe path is a configuration fault, not a key verdict', async (t) => {
  const stub = await stubFor(t, { mode: '404', keys: [KEY] })
  let verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.reason, 'not-found')
  t.match(render(t, verdict, openai, KEY).fix, /baseUrl/)
  stub.set('custom', { status: 405, body: { error: 'method' } })
  verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.reason, 'not-found')
  stub.set('custom', { status: 418, body: 'teapot', contentType: 'text/plain' })
  verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.reason, 'unexpected-status')
  render(t, verdict, openai, KEY, ['teapot'])
  stub.set('400')
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'unexpected-status', 'a plain 400 says nothing about the key')
  stub.set('custom', { status: 408, body: '' })
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'server-error', '408')
})

test('faults #43 / #30: a captive portal or a 200 of the wrong shape is never valid', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const mode of ['captive', 'wrongshape'] as const) {
    stub.set(mode)
    const verdict = await probe(stub.url, openai, KEY, settings())
    t.equal(verdict.cause, 'unreachable', mode)
    t.equal(verdict.reason, 'unexpected-answer')
    render(t, verdict, openai, KEY, ['Login required'])
  }
  stub.set('custom', { status: 200, body: { error: { message: 'nope' } } })
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'unexpected-answer', '200 with an error body')
  stub.set('custom', { status: 200, body: '{"data":[]}', contentType: 'text/html' })
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'unexpected-answer', 'the right JSON as HTML')
  stub.set('custom', { status: 200, body: '[1]', contentType: null })
  const verdict = await probe(stub.url, openai, KEY, settings())
  t.equal(verdict.reason, 'unexpected-answer', 'an array where an object is expected')
  t.match(render(t, verdict, openai, KEY).message, /none/)
  // A provider without a shape accepts any JSON object, and nothing else.
  const bare = { id: 'bare', label: 'Bare AI', env: 'BARE_KEY', baseUrl: stub.url, probe: { path: '/v1/models' } }
  t.equal((await probe(stub.url, bare, KEY, settings())).cause, 'valid')
  stub.set('captive')
  t.equal((await probe(stub.url, bare, KEY, settings())).cause, 'unreachable')
  stub.set('custom', { status: 200, body: 'null' })
  t.equal((await probe(stub.url, bare, KEY, settings())).cause, 'unreachable', 'JSON null')
})

test('faults #44: a huge body is read only up to BODY_CAP, fast', async (t) => {
  const stub = await stubFor(t, { mode: 'huge', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const started = performance.now()
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher, { timeout: 2000 }))
    t.ok(performance.now() - started < 1000, `${name}: settled without reading 20 MiB`)
    t.equal(verdict.cause, 'valid', 'the cut prefix has the list shape')
  }
  stub.set('huge', { status: 401 })
  t.equal((await probe(stub.url, openai, KEY, settings({ timeout: 2000 }))).cause, 'rejected', 'a huge 401 page')
  stub.set('custom', { status: 200, body: `<html>${' '.repeat(BODY_CAP * 2)}</html>`, contentType: 'application/json' })
  t.equal((await probe(stub.url, openai, KEY, settings())).reason, 'unexpected-answer', 'a cut body of the wrong shape')
})

test('faults #45: a gzip bomb is never inflated', async (t) => {
  const stub = await stubFor(t, { mode: 'gzipbomb', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher, { timeout: 2000 }))
    t.equal(verdict.cause, 'unreachable', name)
    t.equal(verdict.reason, 'unexpected-answer')
    t.equal(stub.requests.at(-1)?.headers['accept-encoding'], 'identity')
  }
})

test('faults #19: a server that never answers settles at the attempt deadline, as timeout, not retried', async (t) => {
  const stub = await stubFor(t, { mode: 'hang', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const before = stub.hits
    const started = performance.now()
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher, { timeout: 200, retries: 2 }))
    const took = performance.now() - started
    t.ok(took >= 190 && took < 700, `${name}: ${Math.round(took)} ms`)
    t.equal(verdict.reason, 'timeout')
    t.equal(verdict.facts?.timeoutMs, 200)
    t.equal(stub.hits - before, 1, 'a timeout is not retried')
    t.match(render(t, verdict, openai, KEY).message, /200 ms/)
  }
})

test('faults #21: a trickling body is cut by the attempt deadline', async (t) => {
  const stub = await stubFor(t, { mode: 'trickle', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const started = performance.now()
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher, { timeout: 250 }))
    const took = performance.now() - started
    t.ok(took >= 240 && took < 700, `${name}: ${Math.round(took)} ms although bytes kept coming`)
    t.equal(verdict.reason, 'timeout', name)
  }
})

test('faults #20: a body that stalls after the headers ends at the deadline', async (t) => {
  const stub = await stubFor(t, { mode: 'stall', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher, { timeout: 200 }))
    t.equal(verdict.reason, 'timeout', name)
  }
})

test('faults #22: a reset and a close before the answer are transient network faults', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const [mode, reasons] of [['rst', ['reset']], ['fin', ['closed']], ['clmismatch', ['reset', 'closed']]] as const) {
    stub.set(mode)
    for (const [name, dispatcher] of transports(t)) {
      const before = stub.hits
      const verdict = await probe(stub.url, openai, KEY, via(dispatcher, { retries: 1 }))
      t.equal(verdict.cause, 'unreachable')
      t.ok((reasons as readonly string[]).includes(verdict.reason), `${mode} via ${name}: ${verdict.reason}`)
      t.equal(stub.hits - before, 2, 'retried once')
      render(t, verdict, openai, KEY)
    }
  }
})

test('faults #25: non-HTTP bytes are a protocol fault', async (t) => {
  const stub = await stubFor(t, { mode: 'garbage', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const verdict = await probe(stub.url, openai, KEY, via(dispatcher))
    t.equal(verdict.reason, 'protocol', name)
    render(t, verdict, openai, KEY, ['SSH-2.0'])
  }
})

test('faults #26: oversized headers and bad chunked framing are protocol faults', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  for (const mode of ['bighdr', 'badchunk'] as const) {
    stub.set(mode)
    for (const [name, dispatcher] of transports(t)) {
      const verdict = await probe(stub.url, openai, KEY, via(dispatcher))
      t.equal(verdict.reason, 'protocol', `${mode} via ${name}`)
    }
  }
})

test('faults #17: a closed port is refused, retried and never a key verdict', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  for (const [name, dispatcher] of transports(t)) {
    const verdict = await probe(`http://127.0.0.1:${port}`, openai, KEY, via(dispatcher, { retries: 1 }))
    t.equal(verdict.cause, 'unreachable', name)
    t.equal(verdict.reason, 'refused')
    t.equal(verdict.facts?.errno, 'ECONNREFUSED')
    t.match(render(t, verdict, openai, KEY).message, `127.0.0.1:${port}`)
  }
})

test('faults #23: DNS failures (EAI_AGAIN, ENOTFOUND) through an injected lookup are network faults', async (t) => {
  for (const code of ['EAI_AGAIN', 'ENOTFOUND']) {
    let lookups = 0
    const agent = new Agent({
      connect: {
        lookup: (host: string, _options: unknown, callback: (err: Error) => void) => {
          lookups++
          callback(Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code }))
        }
      }
    } as unknown as Agent.Options)
    t.teardown(() => agent.destroy())
    const verdict = await probe('https://api.openai.com', openai, KEY, settings({ dispatcher: agent, retries: 1 }))
    t.equal(verdict.cause, 'unreachable', code)
    t.equal(verdict.reason, 'dns')
    t.equal(verdict.facts?.errno, code)
    t.equal(lookups, 2, 'retried once')
    t.match(render(t, verdict, openai, KEY).message, /api\.openai\.com\) could not be resolved/)
  }
})

test('an injected undici Agent is used, and so is a dispatcher without .request', async (t) => {
  const stub = await stubFor(t, { mode: 'ok', keys: [KEY] })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  let dispatched = 0
  const bare = {
    dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      dispatched++
      return agent.dispatch(options, handler)
    }
  } as unknown as Dispatcher
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: agent }))).cause, 'valid')
  t.equal(stub.hits, 1, 'the stub saw the Agent\'s request')
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: bare }))).cause, 'valid')
  t.equal((await probe(stub.url, openai, KEY, settings({ dispatcher: bare }))).cause, 'valid')
  t.equal(dispatched, 2, 'the bare dispatcher carried both probes')
  t.equal(stub.hits, 3)
})

test('faults #32: the close signal aborts a probe at once, as aborted', async (t) => {
  const stub = await stubFor(t, { mode: 'hang', keys: [KEY] })
  for (const [name, dispatcher] of transports(t)) {
    const controller = new AbortController()
    const started = performance.now()
    const pending = probe(stub.url, openai, KEY, via(dispatcher, { timeout: 5000, retries: 3, signal: controller.signal }))
    setTimeout(() => controller.abort(new DOMException('closing', 'AbortError')), 50)
    const verdict = await pending
    t.ok(performance.now() - started < 500, `${name}: settled at once`)
    t.same(verdict, { cause: 'unreachable', reason: 'aborted' })
    render(t, verdict, openai, KEY)
  }
  const before = stub.hits
  const closed = new AbortController()
  closed.abort()
  t.same(await probe(stub.url, openai, KEY, settings({ signal: closed.signal })), { cause: 'unreachable', reason: 'aborted' })
  t.equal(stub.hits, before, 'an already closed guard sends nothing')
  // Closing during the backoff between attempts ends the probe too.
  stub.set('500')
  const controller = new AbortController()
  const pending = probe(stub.url, openai, KEY, settings({ retries: 3, random: () => 1, signal: controller.signal }))
  setTimeout(() => controller.abort(), 60)
  const started = performance.now()
  await pending
  t.ok(performance.now() - started < 150)
})

test('the whole-probe deadline stops retries', async (t) => {
  const stub = await stubFor(t, { mode: '500', keys: [KEY] })
  let started = performance.now()
  let verdict = await probe(stub.url, openai, KEY, settings({ retries: 10, random: () => 1, deadline: started + 400 }))
  t.ok(performance.now() - started < 500, 'ended by the deadline')
  t.equal(verdict.reason, 'server-error')
  t.ok(stub.hits >= 2 && stub.hits < 5, `${stub.hits} attempts, not 11`)
  // A Retry-After longer than what is left ends the probe without waiting for it.
  stub.set('503', { retryAfter: '1' })
  const before = stub.hits
  started = performance.now()
  verdict = await probe(stub.url, openai, KEY, settings({ retries: 3, deadline: started + 300 }))
  t.ok(performance.now() - started < 200)
  t.equal(verdict.retryAfterMs, 1000)
  t.equal(stub.hits - before, 1)
  // The last attempt's deadline is what is left, not the full timeout.
  stub.set('hang')
  started = performance.now()
  verdict = await probe(stub.url, openai, KEY, settings({ timeout: 5000, deadline: started + 150 }))
  t.ok(performance.now() - started < 400)
  t.equal(verdict.reason, 'timeout')
})

test('retries use capped, jittered backoff from the random source', async (t) => {
  const stub = await stubFor(t, { mode: '502', keys: [KEY] })
  const draws: number[] = []
  const started = performance.now()
  await probe(stub.url, openai, KEY, settings({ retries: 2, random: () => { draws.push(0.1); return 0.1 } }))
  t.equal(draws.length, 2)
  const took = performance.now() - started
  t.ok(took >= 55 && took < 400, `waited 20 + 40 ms (${Math.round(took)} ms)`)
  t.equal(stub.hits, 3)
  // The default random source works too.
  const before = stub.hits
  const { random: _, ...rest } = settings({ retries: 1 })
  await probe(stub.url, openai, KEY, rest)
  t.equal(stub.hits - before, 2)
})

test('faults #47: bodies are always consumed or destroyed, so one connection serves many probes', async (t) => {
  const stub = await stubFor(t, { mode: '401json', keys: [KEY] })
  const agent = new Agent({ connections: 1 })
  t.teardown(() => agent.destroy())
  const started = performance.now()
  const verdicts = await Promise.all(Array.from({ length: 50 }, () => probe(stub.url, openai, KEY, settings({ dispatcher: agent, timeout: 2000 }))))
  t.ok(verdicts.every((v) => v.cause === 'rejected'))
  t.ok(performance.now() - started < 2000)
  stub.set('huge')
  const big = await Promise.all(Array.from({ length: 5 }, () => probe(stub.url, openai, KEY, settings({ dispatcher: agent, timeout: 2000 }))))
  t.ok(big.every((v) => v.cause === 'valid'), 'cut bodies free the connection')
})

test('the request id is kept only when it looks like one', async (t) => {
  const stub = await stubFor(t, { mode: 'ok', keys: [KEY], headers: { 'request-id': 'req_011abc' } })
  t.equal((await probe(stub.url, providers.anthropic, KEY, settings())).requestId, 'req_stub_1', 'x-request-id first')
  stub.set('custom', { status: 200, body: { data: [] } })
  t.equal((await probe(stub.url, openai, KEY, settings())).requestId, 'req_011abc')
  stub.set('custom', { status: 200, body: { data: [] }, headers: { 'request-id': 'x y <script>' } })
  t.equal((await probe(stub.url, openai, KEY, settings())).requestId, undefined)
})

test('probeUrl keeps the base path and never lets the path change the host', async (t) => {
  t.equal(probeUrl('https://gw.example.com/fireworks/', providers.fireworks).href, 'https://gw.example.com/fireworks/v1/accounts/fireworks/models?pageSize=1')
  t.equal(probeUrl('https://api.openai.com', openai).href, 'https://api.openai.com/v1/models')
  const tricky = probeUrl('https://api.openai.com//evil.example', openai)
  t.equal(tricky.host, 'api.openai.com')
  // Through a real probe: the stub on 127.0.0.1 gets it, not a host named in the path.
  const stub = await stubFor(t, { mode: 'ok', keys: [KEY] })
  t.equal((await probe(`${stub.url}//localhost:1`, openai, KEY, settings())).cause, 'valid')
  t.equal(stub.requests[0]?.path, '//localhost:1/v1/models')
})

test('sleep waits, ends early on abort, and at once when already aborted', async (t) => {
  const controller = new AbortController()
  let started = performance.now()
  await sleep(20, controller.signal)
  t.ok(performance.now() - started >= 15)
  started = performance.now()
  const pending = sleep(5000, controller.signal)
  controller.abort()
  await pending
  t.ok(performance.now() - started < 100)
  started = performance.now()
  await sleep(5000, controller.signal)
  t.ok(performance.now() - started < 100)
})

test('faults #18: an answer that arrives after the deadline is dropped and its body destroyed', async (t) => {
  const stub = await stubFor(t, { mode: 'ok', keys: [KEY] })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  let late: Dispatcher.ResponseData | undefined
  const slow = {
    async request (options: Dispatcher.RequestOptions) {
      await sleep(120, new AbortController().signal)
      late = await agent.request({ ...options, signal: null })
      return late
    }
  } as unknown as Dispatcher
  const started = performance.now()
  const verdict = await probe(stub.url, openai, KEY, settings({ dispatcher: slow, timeout: 50 }))
  t.ok(performance.now() - started < 110, 'settled at the deadline, not when the answer came')
  t.equal(verdict.reason, 'timeout')
  await sleep(150, new AbortController().signal)
  t.equal(stub.hits, 1)
  t.ok(late?.body.destroyed, 'the late body was destroyed')
})

test('Stop: the step in flight is stopped once, with the reason; a step registered after the stop runs at once', async (t) => {
  const seen: unknown[] = []
  const stop = new Stop()
  stop.on((reason) => seen.push(['first', reason]))
  stop.on((reason) => seen.push(['second', reason]))
  stop.stop('deadline')
  stop.stop('close')
  t.same(seen, [['second', 'deadline']], 'only the step in flight, once, with the first reason')
  stop.on((reason) => seen.push(['late', reason]))
  t.same(seen.at(-1), ['late', 'deadline'], 'a step that starts after the stop is stopped at once')
  t.same([stop.stopped, stop.reason], [true, 'deadline'])
})
