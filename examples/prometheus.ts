/**
 * Prometheus recipe: the OpenTelemetry SDK with its Prometheus exporter, and keyguard's four metrics on
 * /metrics (keyguard_key_up, keyguard_probe_duration, keyguard_upstream_rejections_total,
 * keyguard_gate_refusals_total). The alert rule that goes with it is in docs/telemetry.md.
 *
 *   npm install @opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus
 *   FIREWORKS_API_KEY=fw_… node --import tsx examples/prometheus.ts
 *   curl localhost:3000/metrics
 *
 * Environment: FIREWORKS_API_KEY (or FIREWORKS_API_KEY_FILE), FIREWORKS_BASE_URL (default
 * https://api.fireworks.ai), PORT (default 3000), HOST (default 0.0.0.0).
 */
import { metrics } from '@opentelemetry/api'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import Fastify from 'fastify'
import OpenAI from 'openai'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard from '../index.js'
import { serve } from './serve.js'

// The SDK first: keyguard takes its meter when it is registered (and costs nothing when no SDK is).
// preventServerStart: the app serves /metrics itself, below. To scrape a separate port instead, drop it
// and pass { port: 9464, host: '127.0.0.1' }: the exporter then runs its own server.
const exporter = new PrometheusExporter({ preventServerStart: true })
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }))

const baseUrl = process.env.FIREWORKS_BASE_URL ?? 'https://api.fireworks.ai'
const app = Fastify({ logger: true })

await app.register(keyguard, {
  keys: [{ provider: 'fireworks', baseUrl }],
  onInvalid: 'degrade' // boot anyway: keyguard_key_up 0 and /readyz 503 until the key works
})

// /metrics names your keys, providers and causes (never a key): keep it off the public network, as
// /readyz?verbose.
app.get('/metrics', (request, reply) => {
  reply.hijack()
  exporter.getMetricsRequestHandler(request.raw, reply.raw)
})

// A route that needs the key: refused with 503 while it fails (keyguard_gate_refusals_total), and an
// upstream 401 seen through keyguard.fetch counts in keyguard_upstream_rejections_total.
app.post<{ Body: { prompt: string } }>('/chat', {
  config: { keyguard: 'fireworks' },
  schema: { body: { type: 'object', required: ['prompt'], properties: { prompt: { type: 'string', maxLength: 4_000 } } } }
}, async (request) => {
  const openai = new OpenAI({
    apiKey: app.keyguard.key('fireworks'),
    baseURL: `${baseUrl}/inference/v1`,
    fetch: app.keyguard.fetch,
    maxRetries: 0
  })
  const completion = await openai.chat.completions.create({
    model: process.env.FIREWORKS_MODEL ?? 'accounts/fireworks/models/llama-v3p1-8b-instruct',
    messages: [{ role: 'user', content: request.body.prompt }]
  })
  return { answer: completion.choices[0]?.message.content ?? '' }
})

await serve(app)
