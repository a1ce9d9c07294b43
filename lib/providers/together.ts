import type { ProviderSpec } from './types.js'
import { jsonListOrWith } from './shape.js'

export const together: ProviderSpec = {
  id: 'together',
  label: 'Together AI',
  env: 'TOGETHER_API_KEY',
  baseUrl: 'https://api.together.xyz',
  probe: { path: '/v1/models' },
  valid: jsonListOrWith('data'),
  key: { pattern: /^tgp_v1_[A-Za-z0-9_-]{43}$|^[a-f0-9]{64}$/, prefixes: ['tgp_v1_'] },
  dashboard: 'https://api.together.ai/settings/api-keys'
}
