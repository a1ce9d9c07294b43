import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const replicate: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'replicate',
  label: 'Replicate',
  env: 'REPLICATE_API_TOKEN',
  // source: replicate 1.4.0 index.js — base https://api.replicate.com/v1, Bearer auth
  baseUrl: 'https://api.replicate.com',
  // source: replicate 1.4.0 lib/accounts.js — accounts.current() is GET /v1/account
  probe: { path: '/v1/account' },
  // source: replicate 1.4.0 lib/accounts.js — { type, username, name }
  valid: jsonWith('username'),
  // source: trufflehog pkg/detectors/replicate — r8_[0-9A-Za-z_-]{37}
  key: { pattern: /^r8_[0-9A-Za-z_-]{37}$/, prefixes: ['r8_'] },
  // source: replicate.com docs — tokens are managed in the account settings
  dashboard: 'https://replicate.com/account/api-tokens'
})
