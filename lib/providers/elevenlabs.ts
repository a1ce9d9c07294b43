import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const elevenlabs: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'elevenlabs',
  label: 'ElevenLabs',
  env: 'ELEVENLABS_API_KEY',
  // source: trufflehog pkg/detectors/elevenlabs/v2 — https://api.elevenlabs.io
  baseUrl: 'https://api.elevenlabs.io',
  // source: trufflehog pkg/detectors/elevenlabs/v2 — the key goes in xi-api-key
  auth: { header: 'xi-api-key' },
  // source: trufflehog pkg/detectors/elevenlabs/v2 — GET /v1/user proves the key (400/401 = invalid)
  probe: { path: '/v1/user' },
  // source: trufflehog pkg/detectors/elevenlabs/v2 — 200 { user_id, subscription: { tier }, first_name }
  valid: jsonWith('subscription'),
  classify (answer) {
    const status = field(answer.json, 'detail', 'status')
    // A key restricted to some endpoints cannot read /v1/user, yet it authenticated.
    // source: trufflehog pkg/detectors/elevenlabs/v2 — 401 {"detail":{"status":"missing_permissions"}} = a valid key
    if ((answer.status === 400 || answer.status === 401) && status === 'missing_permissions') {
      return { cause: 'valid', reason: 'scoped-key' }
    }
    // source: trufflehog pkg/detectors/elevenlabs/v2 — 400 (like 401) means an invalid key
    if (answer.status === 400 && status === 'invalid_api_key') return { cause: 'rejected', reason: 'unauthorized' }
    return undefined
  },
  // sk_ is Stripe's too, so it is no distinctive prefix here.
  // source: trufflehog pkg/detectors/elevenlabs/v2 — sk_[a-f0-9]{48}; v1 — legacy [a-f0-9]{32}
  key: { pattern: /^sk_[a-f0-9]{48}$|^[a-f0-9]{32}$/ },
  // source: elevenlabs.io docs — keys are managed in the app's settings
  dashboard: 'https://elevenlabs.io/app/settings/api-keys'
})
