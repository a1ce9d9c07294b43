import type { ProviderSpec } from './types.js'
import { errorText, field, jsonWith } from './shape.js'

export const openai: ProviderSpec = {
  id: 'openai',
  label: 'OpenAI',
  env: 'OPENAI_API_KEY',
  baseUrl: 'https://api.openai.com',
  probe: { path: '/v1/models' },
  valid: jsonWith('data'),
  classify (answer) {
    const text = errorText(answer)
    // Restricted keys missing a scope, and keys used from a disallowed IP, get 401, not 403.
    if (answer.status === 401 && /insufficient permissions|missing scopes/i.test(text)) return { cause: 'forbidden', reason: 'missing-scope' }
    if (answer.status === 401 && /ip .*not authorized|not authorized .*ip/i.test(text)) return { cause: 'forbidden', reason: 'ip-not-allowed' }
    if (answer.status === 429 && field(answer.json, 'error', 'code') === 'insufficient_quota') return { cause: 'limited', reason: 'quota' }
    return undefined
  },
  key: {
    pattern: /^sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}$|^sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}$/,
    prefixes: ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-None-']
  },
  dashboard: 'https://platform.openai.com/api-keys'
}
