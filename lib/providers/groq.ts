import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const groq: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'groq',
  label: 'Groq',
  env: 'GROQ_API_KEY',
  // source: console.groq.com/docs — OpenAI-compatible base https://api.groq.com/openai/v1
  baseUrl: 'https://api.groq.com',
  // source: trufflehog pkg/detectors/groq — GET /openai/v1/models proves the key
  probe: { path: '/openai/v1/models' },
  // source: console.groq.com/docs/models — { object: 'list', data: […] }
  valid: jsonWith('data'),
  classify (answer) {
    // source: console.groq.com/docs/errors — 498: flex-tier capacity exceeded; the key authenticated
    if (answer.status === 498) return { cause: 'limited', reason: 'capacity' }
    return undefined
  },
  // source: trufflehog pkg/detectors/groq — gsk_[a-zA-Z0-9]{52}
  key: { pattern: /^gsk_[A-Za-z0-9]{52}$/, prefixes: ['gsk_'] },
  // source: console.groq.com/docs — keys are managed in the console
  dashboard: 'https://console.groq.com/keys'
})
