import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const deepgram: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'deepgram',
  label: 'Deepgram',
  env: 'DEEPGRAM_API_KEY',
  // source: trufflehog pkg/detectors/deepgram — https://api.deepgram.com
  baseUrl: 'https://api.deepgram.com',
  // source: trufflehog pkg/detectors/deepgram; Natively-AI-assistant#369 — Authorization: Token <key>
  auth: { header: 'authorization', scheme: 'Token' },
  // source: trufflehog pkg/detectors/deepgram — GET /v1/projects, 2xx = a valid key
  probe: { path: '/v1/projects' },
  // source: developers.deepgram.com (get projects) — { projects: […] }
  valid: jsonWith('projects'),
  // No prefix of its own.
  // source: trufflehog pkg/detectors/deepgram — [0-9a-z]{40} near the word deepgram
  key: { pattern: /^[0-9a-z]{40}$/ },
  // source: developers.deepgram.com — keys are managed per project in the console
  dashboard: 'https://console.deepgram.com'
})
