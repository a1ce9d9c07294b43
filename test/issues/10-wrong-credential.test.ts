// Issue 10.5: the key actually sent. A request that carried another credential does not blame the guarded key.
import { test } from 'tap'
import type { Test } from 'tap'
import OpenAI from 'openai'
import { request as undiciRequest } from 'undici'
import { appWith, leaks, until } from '../helpers/app.js'
import { stubFor } from '../helpers/stub.js'
import { fingerprint } from '../../lib/core/redact.js'
import { credentialOf } from '../../lib/upstream/targets.js'

const GUARDED = 'fw_' + 'A'.repeat(28) + 'ABCD'
const OTHER = 'sk-proj-' + 'O'.repeat(36) + '6789'

async function setup (t: Test) {
  const stub = await stubFor(t, { keys: [GUARDED] })
  const { app, logs } = await appWith({
    keys: [{ provider: 'fireworks', baseUrl: stub.url }],
    env: { FIREWORKS_API_KEY: GUARDED, OPENAI_API_KEY: OTHER },
    probe: { interval: 0, retries: 0, timeout: 2_000 }
  })
  t.teardown(() => app.close())
  return { stub, app, logs }
}

test('an SDK built from another variable: 502 to the client, readiness stays 200, the log and report() name both fingerprints', async (t) => {
  const { stub, app, logs } = await setup(t)
  app.post('/chat', async () => {
    // The mistake: the client reads OPENAI_API_KEY while keyguard guards FIREWORKS_API_KEY.
    const client = new OpenAI({ apiKey: OTHER, baseURL: `${stub.url}/inference/v1`, maxRetries: 0, fetch: app.keyguard.fetch })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  await app.ready()
  const probes = stub.hits
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 502, 'the client still gets the problem document')
  t.equal(res.json().code, 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(stub.hits, probes + 1, 'only the chat call: no recheck of the guarded key')
  t.equal((await app.inject('/readyz')).statusCode, 200, 'readiness stays 200')
  const sent = fingerprint(OTHER, ['sk-proj-'])
  const guarded = fingerprint(GUARDED, ['fw_'])
  t.equal(sent, 'sk-proj-…6789')
  t.equal(guarded, 'fw_…ABCD')
  const check = app.keyguard.report().checks.fireworks
  t.equal(check?.status, 'pass')
  t.match(check?.notes, [new RegExp(`carried ${sent}, not FIREWORKS_API_KEY \\(${guarded}\\)`)])
  const line = logs.records().find((record) => /rejected a request at runtime/.test(String(record.msg)))
  t.match(line, { level: 40, keyguard: { key: 'fireworks', sent, fingerprint: guarded } })
  t.match(String(line?.msg), /another variable, or was built with an old key before a rotation/)
  t.notOk(logs.text().includes('rechecking it'), 'no suspicion of the guarded key')
  t.same(leaks(logs.text() + res.body + JSON.stringify(app.keyguard.report()), OTHER.slice(8)), [], 'the other key appears nowhere (its public prefix may)')
  t.same(leaks(logs.text() + res.body + JSON.stringify(app.keyguard.report()), GUARDED), [], 'nor the guarded one')
  // The same credential again is not logged twice.
  await app.inject({ method: 'POST', url: '/chat' })
  t.equal(logs.records().filter((record) => /rejected a request at runtime/.test(String(record.msg))).length, 1, 'told once per credential')
})

test('the guarded key itself rejected: suspected and rechecked, no mismatch', async (t) => {
  const { stub, app, logs } = await setup(t)
  app.post('/chat', async () => {
    const res = await undiciRequest(`${stub.url}/inference/v1/chat/completions`, {
      method: 'POST', dispatcher: app.keyguard.dispatcher, headers: { authorization: `Bearer ${app.keyguard.key()}` }, body: '{}'
    })
    return res.body.text()
  })
  await app.ready()
  stub.set('auth', { keys: [] })
  await app.inject({ method: 'POST', url: '/chat' })
  t.ok(logs.text().includes('rechecking it'), 'the guarded key is suspected')
  t.notOk(logs.text().includes('rejected a request at runtime that carried'), 'no mismatch')
})

test('credentialOf reads every header form undici and fetch use, and strips the scheme', async (t) => {
  t.equal(credentialOf({ Authorization: 'Bearer abc' }, 'authorization'), 'abc')
  t.equal(credentialOf(['x-api-key', 'k1', 'other', 'v'], 'x-api-key'), 'k1')
  t.equal(credentialOf(new Map([['authorization', 'Token t1']]), 'authorization'), 't1')
  t.equal(credentialOf({ 'xi-api-key': ['a', 'b'] }, 'xi-api-key'), 'a')
  t.equal(credentialOf({ 'x-api-key': 'raw-key' }, 'X-Api-Key'), 'raw-key')
  t.equal(credentialOf({ authorization: '  ' }, 'authorization'), undefined)
  t.equal(credentialOf(undefined, 'authorization'), undefined)
  t.equal(credentialOf(['authorization'], 'authorization'), undefined)
  t.equal(credentialOf({}, 'authorization'), undefined)
})

test('without keyguard.fetch: the recheck passes, and the operator is told the request most likely carried another credential', async (t) => {
  const { stub, app, logs } = await setup(t)
  app.post('/chat', async () => {
    const client = new OpenAI({ apiKey: OTHER, baseURL: `${stub.url}/inference/v1`, maxRetries: 0 })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  await app.ready()
  const res = await app.inject({ method: 'POST', url: '/chat' })
  t.equal(res.statusCode, 502)
  t.ok(await until(() => logs.text().includes('most likely carried another credential')), 'told after the recheck')
  t.equal((await app.inject('/readyz')).statusCode, 200, 'readiness stays 200')
  t.match(app.keyguard.report().checks.fireworks?.notes, [/yet FIREWORKS_API_KEY \(fw_…ABCD\) passes its probe/])
  const line = logs.records().find((record) => /most likely carried/.test(String(record.msg)))
  t.match(String(line?.msg), /pass app\.keyguard\.fetch to the client/)
  t.same(leaks(logs.text() + JSON.stringify(app.keyguard.report()), OTHER.slice(8)), [])
})

test('a new credential replaces the old note, and a recheck of the same key keeps it', async (t) => {
  const { stub, app } = await setup(t)
  let apiKey = OTHER
  app.post('/chat', async () => {
    const client = new OpenAI({ apiKey, baseURL: `${stub.url}/inference/v1`, maxRetries: 0, fetch: app.keyguard.fetch })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  await app.ready()
  await app.inject({ method: 'POST', url: '/chat' })
  apiKey = 'sk-proj-' + 'N'.repeat(36) + '1111'
  await app.inject({ method: 'POST', url: '/chat' })
  const notes = app.keyguard.report().checks.fireworks?.notes ?? []
  t.equal(notes.length, 1, 'one note')
  t.match(notes[0], /carried sk-proj-…1111/)
  await app.keyguard.recheck()
  t.equal(app.keyguard.report().checks.fireworks?.notes?.length, 1, 'a recheck of the same key keeps it')
})

test('a rotated key drops the note; a key with no value in use has nothing to compare', async (t) => {
  const stub = await stubFor(t, { keys: [GUARDED] })
  const env: Record<string, string> = { FIREWORKS_API_KEY: GUARDED }
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', baseUrl: stub.url }], env, probe: { interval: 0, retries: 0, timeout: 2_000 } })
  t.teardown(() => app.close())
  app.post('/chat', async () => {
    const client = new OpenAI({ apiKey: OTHER, baseURL: `${stub.url}/inference/v1`, maxRetries: 0, fetch: app.keyguard.fetch })
    return client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  })
  await app.ready()
  await app.inject({ method: 'POST', url: '/chat' })
  t.equal(app.keyguard.report().checks.fireworks?.notes?.length, 1)
  const ROTATED = 'fw_' + 'B'.repeat(28) + 'WXYZ'
  stub.set('auth', { keys: [ROTATED] })
  env.FIREWORKS_API_KEY = ROTATED
  await app.keyguard.recheck()
  t.equal(app.keyguard.report().checks.fireworks?.fingerprint, 'fw_…WXYZ', 'rotated')
  t.equal(app.keyguard.report().checks.fireworks?.notes, undefined, 'the note went with the old key')
  // The key is now unset: nothing to compare a sent credential with, so no mismatch is claimed.
  delete env.FIREWORKS_API_KEY
  await app.keyguard.recheck()
  const before = logs.records().filter((record) => /carried/.test(String(record.msg))).length
  await app.inject({ method: 'POST', url: '/chat' })
  t.equal(logs.records().filter((record) => /carried/.test(String(record.msg))).length, before, 'no claim without a key')
})
