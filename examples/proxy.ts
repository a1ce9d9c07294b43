/**
 * A gateway in front of Fireworks AI with @fastify/reply-from: clients call this server without any
 * provider key, the server adds its own. With `undici: app.keyguard.dispatcher`, keyguard sees the
 * provider's answers: a 401 (our key, not the client's) is passed to the client as a 502
 * `application/problem+json`, and readiness is rechecked at once.
 *
 *   FIREWORKS_API_KEY=fw_… node --import tsx examples/proxy.ts
 *   curl -s localhost:3000/v1/chat/completions -H 'content-type: application/json' \
 *     -d '{"model":"accounts/fireworks/models/llama-v3p1-8b-instruct","messages":[{"role":"user","content":"Hi"}]}'
 *
 * Environment: FIREWORKS_API_KEY (or FIREWORKS_API_KEY_FILE), FIREWORKS_BASE_URL (default
 * https://api.fireworks.ai), PORT (default 3000), HOST (default 0.0.0.0).
 */
import replyFrom from '@fastify/reply-from'
import Fastify from 'fastify'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard from '../index.js'
import { serve } from './serve.js'

const baseUrl = process.env.FIREWORKS_BASE_URL ?? 'https://api.fireworks.ai'

const app = Fastify({ logger: true })

await app.register(keyguard, {
  keys: [{ provider: 'fireworks', baseUrl }],
  onInvalid: 'degrade'
})
// After keyguard: its dispatcher exists once keyguard is registered.
await app.register(replyFrom, { base: baseUrl, undici: app.keyguard.dispatcher })

app.post('/v1/chat/completions', { config: { keyguard: 'fireworks' } }, (_request, reply) => {
  return reply.from('/inference/v1/chat/completions', {
    rewriteRequestHeaders: (_req, headers) => {
      // The client's own credentials and cookies are not the provider's business.
      const { cookie: _cookie, 'x-api-key': _apiKey, ...rest } = headers
      return { ...rest, authorization: `Bearer ${app.keyguard.key('fireworks')}` }
    }
  })
})

await serve(app)
