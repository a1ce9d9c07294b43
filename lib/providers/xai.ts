import type { ProviderSpec } from './types.js'
import { errorText, field, jsonWith } from './shape.js'

export const xai: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'xai',
  label: 'xAI',
  env: 'XAI_API_KEY',
  // source: docs.x.ai — base https://api.x.ai/v1, Bearer auth
  baseUrl: 'https://api.x.ai',
  // source: xAI OpenAPI (api-evangelist/xai) — GET /v1/api-key describes the calling key
  probe: { path: '/v1/api-key' },
  // source: xAI OpenAPI — { redacted_api_key, api_key_blocked, api_key_disabled, team_blocked, … }
  valid: jsonWith('api_key_blocked'),
  classify (answer) {
    // A 400 that does not mention the key (a gateway's, a proxy's) says nothing about it.
    // source: xAI OpenAPI "400 … invalid API key is provided"; continuedev/continue#10778 — 400 "Incorrect API key
    //   provided"
    if (answer.status === 400 && /api.?key/i.test(errorText(answer))) {
      return { cause: 'rejected', reason: 'invalid-argument' }
    }
    // source: xAI OpenAPI — api_key_disabled on a 200
    if (answer.status === 200 && field(answer.json, 'api_key_disabled') === true) {
      return { cause: 'rejected', reason: 'disabled' }
    }
    const blocked = field(answer.json, 'api_key_blocked') === true || field(answer.json, 'team_blocked') === true
    // source: xAI OpenAPI — api_key_blocked / team_blocked on a 200
    if (answer.status === 200 && blocked) {
      return { cause: 'forbidden', reason: 'blocked' }
    }
    return undefined
  },
  // source: trufflehog pkg/detectors/xai — xai-[0-9a-zA-Z_]{80}
  key: { pattern: /^xai-[0-9A-Za-z_]{80}$/, prefixes: ['xai-'] },
  // source: docs.x.ai — keys are managed in the console
  dashboard: 'https://console.x.ai'
})
