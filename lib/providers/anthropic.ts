import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const anthropic: ProviderSpec = {
  id: 'anthropic',
  label: 'Anthropic',
  env: 'ANTHROPIC_API_KEY',
  baseUrl: 'https://api.anthropic.com',
  // x-api-key with version 2023-06-01 is the most widely confirmed pairing (trufflehog, typeclaw).
  auth: { header: 'x-api-key' },
  probe: { path: '/v1/models?limit=1', headers: { 'anthropic-version': '2023-06-01' } },
  valid: jsonWith('data'),
  classify (answer) {
    // A tier spend cap answers 429 without retry-after; it will not clear by waiting.
    if (answer.status === 429 && answer.headers['retry-after'] === undefined) return { cause: 'limited', reason: 'spend-cap' }
    return undefined
  },
  key: { pattern: /^sk-ant-(?:api03|admin01)-[\w-]{93}AA$/, prefixes: ['sk-ant-'], minLength: 40 },
  dashboard: 'https://console.anthropic.com/settings/keys'
}
