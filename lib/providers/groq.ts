import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const groq: ProviderSpec = {
  id: 'groq',
  label: 'Groq',
  env: 'GROQ_API_KEY',
  baseUrl: 'https://api.groq.com',
  probe: { path: '/openai/v1/models' },
  valid: jsonWith('data'),
  classify (answer) {
    // 498: flex-tier capacity exceeded; the key authenticated.
    if (answer.status === 498) return { cause: 'limited', reason: 'capacity' }
    return undefined
  },
  key: { pattern: /^gsk_[A-Za-z0-9]{52}$/, prefixes: ['gsk_'] },
  dashboard: 'https://console.groq.com/keys'
}
