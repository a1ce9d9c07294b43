import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const replicate: ProviderSpec = {
  id: 'replicate',
  label: 'Replicate',
  env: 'REPLICATE_API_TOKEN',
  baseUrl: 'https://api.replicate.com',
  probe: { path: '/v1/account' },
  valid: jsonWith('username'),
  key: { pattern: /^r8_[0-9A-Za-z_-]{37}$/, prefixes: ['r8_'] },
  dashboard: 'https://replicate.com/account/api-tokens'
}
