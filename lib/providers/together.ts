import type { ProviderSpec } from './types.js'
import { jsonListOrWith } from './shape.js'

export const together: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'together',
  label: 'Together AI',
  env: 'TOGETHER_API_KEY',
  // source: docs.together.ai — base https://api.together.xyz/v1, Bearer auth
  baseUrl: 'https://api.together.xyz',
  // source: trufflehog PR #4943 (unmerged) pkg/detectors/togetherai — GET /v1/models proves the key
  probe: { path: '/v1/models' },
  // source: docs.together.ai API reference (models) — a bare JSON array of models
  valid: jsonListOrWith('data'),
  // source: trufflehog PR #4943 — tgp_v1_[A-Za-z0-9_-]{43}; legacy 64 hex unconfirmed (providers.md ❓)
  key: { pattern: /^tgp_v1_[A-Za-z0-9_-]{43}$|^[a-f0-9]{64}$/, prefixes: ['tgp_v1_'] },
  // source: docs.together.ai/docs/error-codes — the 401 text points at the api-keys settings
  dashboard: 'https://api.together.ai/settings/api-keys'
})
