/**
 * A route that calls Fireworks AI through openai-node. With `fetch: app.keyguard.fetch`, keyguard
 * sees the upstream's answers: when the key is revoked at runtime, the SDK's 401 becomes a 502
 * `application/problem+json` for the client (none of the upstream's text), and readiness is
 * rechecked at once.
 *
 *   FIREWORKS_API_KEY=fw_… node --import tsx examples/openai-sdk.ts
 *   curl -s localhost:3000/chat -H 'content-type: application/json' -d '{"prompt":"Say hello"}'
 *
 * Environment: FIREWORKS_API_KEY (or FIREWORKS_API_KEY_FILE), FIREWORKS_BASE_URL (default
 * https://api.fireworks.ai), FIREWORKS_MODEL, PORT (default 3000), HOST (default 0.0.0.0).
 */
import Fastify from 'fastify'
import OpenAI from 'openai'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard from '../index.js'
import { serve } from './serve.js'

const baseUrl = process.env.FIREWORKS_BASE_URL ?? 'https://api.fireworks.ai'
const model = process.env.FIREWORKS_MODEL ?? 'accounts/fireworks/models/llama-v3p1-8b-instruct'

const app = Fastify({ logger: true })

await app.register(keyguard, {
  keys: [{ provider: 'fireworks', baseUrl }],
  onInvalid: 'degrade'
})

app.post<{ Body: { prompt: string } }>('/chat', {
  config: { keyguard: 'fireworks' },
  schema: { body: { type: 'object', required: ['prompt'], properties: { prompt: { type: 'string', maxLength: 8_000 } } } }
}, async (request) => {
  // Built per request, so a rotated key is picked up; app.keyguard.key() is the clean current key.
  const openai = new OpenAI({
    apiKey: app.keyguard.key('fireworks'),
    baseURL: `${baseUrl}/inference/v1`,
    fetch: app.keyguard.fetch
  })
  const completion = await openai.chat.completions.create({
    model,
    messages: [{ role: 'user', content: request.body.prompt }]
  })
  return { answer: completion.choices[0]?.message.content ?? '' }
})

await serve(app)
