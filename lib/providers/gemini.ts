import type { ProviderSpec } from './types.js'
import { errorText, jsonWith } from './shape.js'

export const gemini: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'gemini',
  label: 'Google Gemini',
  env: 'GEMINI_API_KEY',
  // source: @google/genai dist/genai.d.ts — base https://generativelanguage.googleapis.com
  baseUrl: 'https://generativelanguage.googleapis.com',
  // Header, never ?key=: a key in the URL ends up in access logs and traces.
  // source: trufflehog pkg/detectors/googlegemini, @google/genai — the key goes in x-goog-api-key
  auth: { header: 'x-goog-api-key' },
  // source: ai.google.dev/api/models — GET /v1beta/models lists models, pageSize pages
  probe: { path: '/v1beta/models?pageSize=1' },
  // source: ai.google.dev/api/models — { models: […], nextPageToken }
  valid: jsonWith('models'),
  classify (answer) {
    const text = errorText(answer) + ' ' + answer.text
    // source: continuedev/continue#8516 — a bad key gets 400 INVALID_ARGUMENT / API_KEY_INVALID, not 401
    if (answer.status === 400 && /API_KEY_INVALID|API key not valid|API Key not found/i.test(text)) {
      return { cause: 'rejected', reason: 'api-key-invalid' }
    }
    // Since 2026-06 an unrestricted standard key is refused for its type, not because it is revoked.
    // source: discuss.ai.google.dev threads; providers.md appendix — 401 UNAUTHENTICATED, reason
    //   ACCESS_TOKEN_TYPE_UNSUPPORTED
    if (answer.status === 401 && /ACCESS_TOKEN_TYPE_UNSUPPORTED/.test(text)) {
      return { cause: 'rejected', reason: 'key-type-unsupported' }
    }
    // source: ai.google.dev/gemini-api/docs/troubleshooting — 400 FAILED_PRECONDITION: billing or region not enabled
    if (answer.status === 400 && /FAILED_PRECONDITION/.test(text)) return { cause: 'limited', reason: 'billing' }
    // source: ai.google.dev/gemini-api/docs/troubleshooting — 403 API_KEY_SERVICE_BLOCKED: the key may not call this
    //   API
    if (answer.status === 403 && /API_KEY_SERVICE_BLOCKED/.test(text)) {
      return { cause: 'forbidden', reason: 'service-blocked' }
    }
    return undefined
  },
  // Legacy AIzaSy… keys and the 2026 "auth keys" (AQ., IQ.); requiring AIza alone is now wrong.
  // source: trufflehog pkg/detectors/googlegemini — AIzaSy[\w-]{33}; JerryZLiu/Dayflow#282, vicajilau/quizdy#368 —
  //   AQ. keys
  key: { pattern: /^AIzaSy[A-Za-z0-9_-]{33}$|^(?:AQ|IQ)\.[A-Za-z0-9_.-]{20,}$/, prefixes: ['AIzaSy', 'AQ.', 'IQ.'] },
  // source: ai.google.dev/gemini-api/docs/api-key — keys are created in AI Studio
  dashboard: 'https://aistudio.google.com/app/apikey'
})
