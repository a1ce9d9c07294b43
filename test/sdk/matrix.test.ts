import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { test } from 'tap'
import type { Test } from 'tap'
import { PROBLEM_TYPES } from '../../index.js'
import { leaks, until } from '../helpers/app.js'
import type { Logs } from '../helpers/app.js'
import { CASES, prefixOf, sdkApp, WAYS } from '../helpers/sdk.js'
import type { SdkCase } from '../helpers/sdk.js'
import type { Stub } from '../helpers/stub.js'

/**
 * The SDK matrix: every real SDK package, driven by a route of a real Fastify app with keyguard
 * registered, against a loopback stand-in answering the provider's real rejection, with and without
 * `app.keyguard.fetch`. The SDK table of docs/usage.md is checked against these rows (readme.test.ts).
 */

const RATE_LIMITED = { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }
const INTERNAL = { error: { message: 'The server had an error while processing your request', type: 'server_error' } }

/** The routes of the cell: the SDK call, and the application's own 401s. */
function routes (app: FastifyInstance, c: SdkCase, stub: Stub, key: () => string, watched: boolean): void {
  app.post('/chat', async () => c.call({
    key: key(),
    url: stub.url,
    fetch: watched ? app.keyguard.fetch : undefined,
    dispatcher: watched ? app.keyguard.dispatcher : undefined
  }))
  app.get('/own', async (_req, reply) => reply.code(401).header('www-authenticate', 'Bearer realm="app"').send({ error: 'sign in first' }))
  app.get('/own-throw', async () => {
    throw Object.assign(new Error('who are you'), { statusCode: 401 })
  })
}

/** What the same route answers in an app without keyguard: the reply keyguard must leave as it is. */
async function plain (c: SdkCase, stub: Stub, key: string): Promise<LightMyRequestResponse> {
  const app = Fastify()
  app.post('/chat', async () => c.call({ key, url: stub.url }))
  try {
    return await app.inject({ method: 'POST', url: '/chat' })
  } finally {
    await app.close()
  }
}

/** Whether keyguard started a recheck (it logs one line when it does). */
const rechecks = (logs: Logs): number => logs.lines.filter((line) => line.includes('rechecking it')).length

async function cell (t: Test, c: SdkCase, watched: boolean): Promise<void> {
  const prefix = prefixOf(c.provider)
  const { app, logs, stub, key } = await sdkApp(t, c)
  // The public prefix alone (`sk-proj-`) is no leak: the upstream's own masked key starts with it.
  const leaked = (text: string): string[] => leaks(text, key).filter((piece) => !prefix.includes(piece))
  routes(app, c, stub, () => app.keyguard.key(c.provider), watched)
  await app.ready()
  t.equal((await app.inject('/readyz')).statusCode, 200, 'the key is valid at boot')

  // An upstream that cannot serve is not keyguard's business (problem.unavailable is off).
  for (const [status, body] of [[429, RATE_LIMITED], [500, INTERNAL]] as const) {
    stub.set('custom', { status, body, headers: { 'retry-after': '0' } })
    const got = await app.inject({ method: 'POST', url: '/chat' })
    const without = await plain(c, stub, key)
    t.equal(got.statusCode, without.statusCode, `upstream ${status}: the status is what the app gives without keyguard`)
    t.equal(got.body, without.body, `upstream ${status}: the body is what the app gives without keyguard`)
    t.notMatch(got.headers['content-type'], /problem\+json/, `upstream ${status}: no problem document`)
  }
  t.equal(rechecks(logs), 0, 'no recheck for a 429 or a 500')

  const own = await app.inject('/own')
  t.equal(own.statusCode, 401, "the app's own 401 is untouched")
  t.same(own.json(), { error: 'sign in first' })
  t.equal(own.headers['www-authenticate'], 'Bearer realm="app"')
  const thrown = await app.inject('/own-throw')
  t.equal(thrown.statusCode, 401, "the app's own thrown 401 is untouched")
  t.equal(thrown.json().message, 'who are you')
  t.equal(rechecks(logs), 0, "no recheck for the app's own 401s")
  t.equal((await app.inject('/readyz')).statusCode, 200)

  const { status, body, headers, words } = c.rejection
  const requestId = headers['x-request-id'] ?? headers['request-id']
  const from = logs.lines.length
  stub.set('custom', { status, body, headers })
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 502, 'the client gets 502')
  t.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json')
  const doc = res.json() as Record<string, unknown>
  t.equal(doc.type, PROBLEM_TYPES.upstreamUnauthorized)
  t.equal(doc.key, c.provider, 'the problem names the key')
  t.equal(doc.provider, c.provider, 'and its provider')
  if (doc.upstreamRequestId !== undefined) t.equal(doc.upstreamRequestId, requestId, 'the upstream request id, when one is known')
  const reply = `${res.statusCode} ${res.statusMessage}\n${JSON.stringify(res.headers)}\n${res.body}`
  t.same(leaked(reply), [], 'no piece of the key in the reply')
  for (const word of words) t.notOk(reply.includes(word), `no upstream "${word}" in the reply`)

  t.ok(await until(async () => (await app.inject('/readyz')).statusCode === 503), '/readyz goes 503 after the recheck')
  t.equal(rechecks(logs), 1, 'one recheck')
  const after = logs.lines.slice(from).join('')
  t.same(leaked(logs.text()), [], 'no piece of the key in the logs')
  for (const word of words) t.notOk(after.includes(word), `no upstream "${word}" in the logs`)
  t.ok(logs.lines.slice(from).some((line) => line.includes('"err"') && line.includes('upstream text withheld')), 'the error reached the log, stripped')
}

for (const c of CASES) {
  for (const { watched, label } of WAYS) {
    test(`${c.row} (${c.pkg}) ${label} keyguard.fetch: ${c.provider} ${c.rejection.status}`, (t) => cell(t, c, watched))
  }
}
