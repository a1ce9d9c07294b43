import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const cohere: ProviderSpec = {
  id: 'cohere',
  label: 'Cohere',
  env: 'CO_API_KEY',
  baseUrl: 'https://api.cohere.com',
  probe: { method: 'POST', path: '/v1/check-api-key', body: {} },
  valid: jsonWith('valid'),
  classify (answer) {
    // check-api-key answers 200 with valid:false for a bad key.
    if (answer.status === 200 && field(answer.json, 'valid') === false) return { cause: 'rejected', reason: 'valid-false' }
    // 498: the SDK maps it to InvalidTokenError.
    if (answer.status === 498) return { cause: 'rejected', reason: 'invalid-token' }
    return undefined
  },
  key: { pattern: /^[A-Za-z0-9]{40}$/ },
  dashboard: 'https://dashboard.cohere.com/api-keys'
}
