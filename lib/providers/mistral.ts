import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const mistral: ProviderSpec = {
  id: 'mistral',
  label: 'Mistral AI',
  env: 'MISTRAL_API_KEY',
  baseUrl: 'https://api.mistral.ai',
  probe: { path: '/v1/models' },
  valid: jsonWith('data'),
  // No prefix: 32 alphanumerics (trufflehog PR #4953), so nothing to claim as distinctive.
  key: { pattern: /^[A-Za-z0-9]{32}$/ },
  dashboard: 'https://console.mistral.ai/api-keys'
}
