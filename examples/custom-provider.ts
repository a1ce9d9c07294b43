/**
 * A provider keyguard does not ship, described as data: where its key lives, how it is sent, and a
 * no-cost request that proves it works. Everything else (inspection, probe, readiness, gating,
 * upstream-401 conversion) comes for free.
 *
 *   ACME_API_KEY=acme_… node --import tsx examples/custom-provider.ts
 *
 * Environment: ACME_API_KEY (or ACME_API_KEY_FILE), ACME_BASE_URL (default https://api.acme.example),
 * PORT (default 3000), HOST (default 0.0.0.0).
 */
import Fastify from 'fastify'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard from '../index.js'
import type { ProviderSpec } from '../index.js'
import { serve } from './serve.js'

const acme: ProviderSpec = {
  id: 'acme',
  label: 'Acme AI',
  env: 'ACME_API_KEY',
  baseUrl: process.env.ACME_BASE_URL ?? 'https://api.acme.example',
  // Sent as "x-api-key: <key>" (no scheme); the default is "authorization: Bearer <key>".
  auth: { header: 'x-api-key' },
  // The cheapest authenticated read: list models. Never a completion.
  probe: { path: '/v1/models', headers: { 'acme-version': '2025-01-01' } },
  // A 200 must look like Acme's model list; a captive portal or a WAF page is not a pass.
  valid: (answer) => Array.isArray((answer.json as { data?: unknown } | undefined)?.data),
  // Acme answers 403 {"error":{"code":"key_expired"}} for an expired key: that is about the key.
  classify: (answer) => answer.status === 403 && /key_expired/.test(answer.text) ? { cause: 'rejected', reason: 'unauthorized' } : undefined,
  // Offline knowledge: a key of another shape is refused before it is sent anywhere.
  key: { prefixes: ['acme_'], pattern: /^acme_[A-Za-z0-9]{24,48}$/, minLength: 29 },
  dashboard: 'https://console.acme.example/keys'
}

const app = Fastify({ logger: true })

await app.register(keyguard, { keys: [{ provider: acme }] })

app.get('/models', { config: { keyguard: 'acme' } }, async () => {
  const res = await app.keyguard.fetch(`${acme.baseUrl}/v1/models`, { headers: { 'x-api-key': app.keyguard.key('acme') } })
  if (!res.ok) throw new Error(`Acme answered ${res.status}`) // a 401 here becomes a 502 problem+json
  return res.json()
})

await serve(app)
