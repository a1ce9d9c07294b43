import type { ProviderSpec } from './types.js'
import { errorText, jsonWith } from './shape.js'

export const gemini: ProviderSpec = {
  id: 'gemini',
  label: 'Google Gemini',
  env: 'GEMINI_API_KEY',
  baseUrl: 'https://generativelanguage.googleapis.com',
  // Header, never ?key=: a key in the URL ends up in access logs and traces.
  auth: { header: 'x-goog-api-key' },
  probe: { path: '/v1beta/models?pageSize=1' },
  valid: jsonWith('models'),
  classify (answer) {
    const text = errorText(answer) + ' ' + answer.text
    // Gemini answers 400 INVALID_ARGUMENT / API_KEY_INVALID for a bad key, not 401.
    if (answer.status === 400 && /API_KEY_INVALID|API key not valid|API Key not found/i.test(text)) return { cause: 'rejected', reason: 'api-key-invalid' }
    if (answer.status === 400 && /FAILED_PRECONDITION/.test(text)) return { cause: 'limited', reason: 'billing' }
    if (answer.status === 403 && /API_KEY_SERVICE_BLOCKED/.test(text)) return { cause: 'forbidden', reason: 'service-blocked' }
    return undefined
  },
  // Legacy AIzaSy… keys and the 2026 "auth keys" (AQ., IQ.); requiring AIza alone is now wrong.
  key: { pattern: /^AIzaSy[A-Za-z0-9_-]{33}$|^(?:AQ|IQ)\.[A-Za-z0-9_.-]{20,}$/, prefixes: ['AIzaSy', 'AQ.', 'IQ.'] },
  dashboard: 'https://aistudio.google.com/app/apikey'
}
