import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const deepseek: ProviderSpec = {
  id: 'deepseek',
  label: 'DeepSeek',
  env: 'DEEPSEEK_API_KEY',
  baseUrl: 'https://api.deepseek.com',
  probe: { path: '/user/balance' },
  valid: jsonWith('is_available'),
  classify (answer) {
    if (answer.status === 200 && field(answer.json, 'is_available') === false) return { cause: 'limited', reason: 'no-balance' }
    return undefined
  },
  // sk- + 32 lower-case hex; sk- alone is shared with OpenAI's legacy keys, so no distinctive prefix.
  key: { pattern: /^sk-[a-f0-9]{32}$/ },
  dashboard: 'https://platform.deepseek.com/api_keys'
}
