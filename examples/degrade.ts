/**
 * Degrade instead of refusing: the server boots with a failing key, stays live, reports not ready,
 * and refuses only the routes that need the key. Made for Kubernetes: see k8s/deployment.yaml.
 *
 *   FIREWORKS_API_KEY_FILE=/var/run/secrets/fireworks/api-key node --import tsx examples/degrade.ts
 *
 * Environment: FIREWORKS_API_KEY_FILE (or FIREWORKS_API_KEY), FIREWORKS_BASE_URL (default
 * https://api.fireworks.ai), PORT (default 3000), HOST (default 0.0.0.0).
 * After rotating the secret, `kill -HUP <pid>` rechecks at once; otherwise the recheck timer does it.
 */
import Fastify from 'fastify'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard from '../index.js'
import { serve } from './serve.js'

const baseUrl = process.env.FIREWORKS_BASE_URL ?? 'https://api.fireworks.ai'

const app = Fastify({ logger: true })

await app.register(keyguard, {
  keys: [{ provider: 'fireworks', baseUrl }],
  onInvalid: 'degrade' // boot anyway: /livez 200, /readyz 503 until the key works
})

// Needs no key: keeps answering whatever the key's state.
app.get('/hello', async () => ({ hello: 'world' }))

// Needs the key: while it fails, keyguard answers 503 problem+json with Retry-After and this handler
// does not run.
app.post<{ Body: { text: string } }>('/summarize', {
  config: { keyguard: 'fireworks' },
  schema: { body: { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 20_000 } } } }
}, async (request, reply) => {
  // A plain fetch, not keyguard.fetch: keyguard does not see this answer, so say it explicitly.
  const res = await fetch(`${baseUrl}/inference/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.keyguard.key('fireworks')}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: process.env.FIREWORKS_MODEL ?? 'accounts/fireworks/models/llama-v3p1-8b-instruct',
      messages: [{ role: 'user', content: `Summarize in one sentence:\n\n${request.body.text}` }]
    }),
    signal: AbortSignal.timeout(30_000)
  })
  if (res.status === 401) {
    await res.body?.cancel()
    // 502 application/problem+json, no upstream text; keyguard rechecks the key now.
    return reply.upstreamUnauthorized('fireworks')
  }
  if (!res.ok) {
    await res.body?.cancel()
    return reply.code(502).send({ error: `the model provider answered ${res.status}` })
  }
  const completion = await res.json() as { choices?: Array<{ message?: { content?: string } }> }
  return { summary: completion.choices?.[0]?.message?.content ?? '' }
})

// After a secret rotation: kill -HUP <pid> rechecks every key now, without a restart.
process.on('SIGHUP', () => {
  app.keyguard.recheck().then((report) => app.log.info({ status: report.status }, 'keys rechecked'), () => {})
})

await serve(app)
