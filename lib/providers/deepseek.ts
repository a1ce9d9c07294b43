import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const deepseek: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'deepseek',
  label: 'DeepSeek',
  env: 'DEEPSEEK_API_KEY',
  // source: api-docs.deepseek.com — base https://api.deepseek.com, Bearer auth
  baseUrl: 'https://api.deepseek.com',
  // source: trufflehog pkg/detectors/deepseek — GET /user/balance proves the key
  probe: { path: '/user/balance' },
  // source: api-docs.deepseek.com (get user balance) — { is_available, balance_infos }
  valid: jsonWith('is_available'),
  classify (answer) {
    // source: api-docs.deepseek.com (get user balance) — is_available:false: no balance to spend
    if (answer.status === 200 && field(answer.json, 'is_available') === false) {
      return { cause: 'limited', reason: 'no-balance' }
    }
    return undefined
  },
  // sk- alone is shared with OpenAI's legacy keys, so no distinctive prefix.
  // source: trufflehog pkg/detectors/deepseek — sk-[a-z0-9]{32} near the word deepseek
  key: { pattern: /^sk-[a-f0-9]{32}$/ },
  // source: api-docs.deepseek.com — keys are managed on the platform
  dashboard: 'https://platform.deepseek.com/api_keys'
})
