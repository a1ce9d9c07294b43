import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const openrouter: ProviderSpec = {
  id: 'openrouter',
  label: 'OpenRouter',
  env: 'OPENROUTER_API_KEY',
  baseUrl: 'https://openrouter.ai',
  // The models list is public and can never reject a key; /key describes the key itself.
  probe: { path: '/api/v1/key' },
  valid: jsonWith('data'),
  classify (answer) {
    const remaining = field(answer.json, 'data', 'limit_remaining')
    if (answer.status === 200 && typeof remaining === 'number' && remaining <= 0) return { cause: 'limited', reason: 'no-credit' }
    return undefined
  },
  key: { pattern: /^sk-or-v1-[0-9a-f]{64}$/, prefixes: ['sk-or-'] },
  dashboard: 'https://openrouter.ai/settings/keys'
}
