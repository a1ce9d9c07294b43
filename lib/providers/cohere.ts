import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const cohere: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'cohere',
  label: 'Cohere',
  env: 'CO_API_KEY',
  // source: cohere-ai 8.1.0 Client.js — default base https://api.cohere.com, Bearer auth
  baseUrl: 'https://api.cohere.com',
  // source: docs.cohere.com/reference/check-api-key — POST /v1/check-api-key answers { valid, organization_id,
  //   owner_id }
  probe: { method: 'POST', path: '/v1/check-api-key', body: {} },
  // source: docs.cohere.com/reference/check-api-key — the answer carries a boolean valid
  valid: jsonWith('valid'),
  classify (answer) {
    // source: docs.cohere.com/reference/check-api-key; trufflehog PR #5225 — a bad key can get 200 with valid:false
    if (answer.status === 200 && field(answer.json, 'valid') === false) {
      return { cause: 'rejected', reason: 'valid-false' }
    }
    // source: cohere-ai 8.1.0 api/errors — the SDK maps 498 to InvalidTokenError
    if (answer.status === 498) return { cause: 'rejected', reason: 'invalid-token' }
    return undefined
  },
  // source: gitleaks rules/cohere.go — 40 alphanumerics near the word cohere; no prefix
  key: { pattern: /^[A-Za-z0-9]{40}$/ },
  // source: docs.cohere.com — keys are managed in the dashboard
  dashboard: 'https://dashboard.cohere.com/api-keys'
})
