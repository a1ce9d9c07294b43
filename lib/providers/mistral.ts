import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const mistral: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'mistral',
  label: 'Mistral AI',
  env: 'MISTRAL_API_KEY',
  // source: docs.mistral.ai — base https://api.mistral.ai/v1, Bearer auth
  baseUrl: 'https://api.mistral.ai',
  // source: trufflehog PR #4953 (unmerged) pkg/detectors/mistral — GET /v1/models proves the key
  probe: { path: '/v1/models' },
  // source: docs.mistral.ai API reference (list models) — { object: 'list', data: […] }
  valid: jsonWith('data'),
  // No prefix, so nothing to claim as distinctive.
  // source: trufflehog PR #4953 — "32-character mixed-case alphanumeric … without a documented prefix"
  key: { pattern: /^[A-Za-z0-9]{32}$/ },
  // source: docs.mistral.ai — keys are managed in the console
  dashboard: 'https://console.mistral.ai/api-keys'
})
