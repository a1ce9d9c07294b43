import type { ProviderSpec } from './types.js'
import { errorText, field, jsonWith } from './shape.js'

export const xai: ProviderSpec = {
  id: 'xai',
  label: 'xAI',
  env: 'XAI_API_KEY',
  baseUrl: 'https://api.x.ai',
  probe: { path: '/v1/api-key' },
  valid: jsonWith('api_key_blocked'),
  classify (answer) {
    // xAI answers 400 (not 401) for an invalid key (xAI OpenAPI: "400 … invalid API key is provided");
    // a 400 that does not mention the key (a gateway's, a proxy's) says nothing about it.
    if (answer.status === 400 && /api.?key/i.test(errorText(answer))) return { cause: 'rejected', reason: 'invalid-argument' }
    if (answer.status === 200 && field(answer.json, 'api_key_disabled') === true) return { cause: 'rejected', reason: 'disabled' }
    if (answer.status === 200 && (field(answer.json, 'api_key_blocked') === true || field(answer.json, 'team_blocked') === true)) {
      return { cause: 'forbidden', reason: 'blocked' }
    }
    return undefined
  },
  key: { pattern: /^xai-[0-9A-Za-z_]{80}$/, prefixes: ['xai-'] },
  dashboard: 'https://console.x.ai'
}
