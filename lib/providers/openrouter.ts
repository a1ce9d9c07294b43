import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const openrouter: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'openrouter',
  label: 'OpenRouter',
  env: 'OPENROUTER_API_KEY',
  // source: openrouter.ai/docs/api/api-reference/api-keys/get-current-key — https://openrouter.ai/api/v1
  baseUrl: 'https://openrouter.ai',
  // The models list is public and can never reject a key; /key describes the key itself.
  // source: openrouter.ai/docs/api/api-reference/api-keys/get-current-key — GET /api/v1/key, 401 for a bad key
  probe: { path: '/api/v1/key' },
  // source: openrouter.ai/docs/api/api-reference/api-keys/get-current-key — { data: { label, limit, limit_remaining,
  //   … } }
  valid: jsonWith('data'),
  classify (answer) {
    const management = field(answer.json, 'data', 'is_management_key') === true ||
      field(answer.json, 'data', 'is_provisioning_key') === true
    // source: get-current-key reference, @openrouter/sdk GetCurrentKeyData — is_management_key (is_provisioning_key,
    //   deprecated)
    // source: openrouter.ai/docs/guides/overview/auth/management-api-keys — management keys cannot call the
    //   completion endpoints
    if (answer.status === 200 && management) {
      return { cause: 'forbidden', reason: 'management-key' }
    }
    const remaining = field(answer.json, 'data', 'limit_remaining')
    // source: get-current-key reference — limit_remaining is the key's credit left
    if (answer.status === 200 && typeof remaining === 'number' && remaining <= 0) {
      return { cause: 'limited', reason: 'no-credit' }
    }
    return undefined
  },
  // source: trufflehog pkg/detectors/openrouter — sk-or-v1-[0-9a-f]{64}
  key: { pattern: /^sk-or-v1-[0-9a-f]{64}$/, prefixes: ['sk-or-'] },
  // source: openrouter.ai docs — keys are managed in settings
  dashboard: 'https://openrouter.ai/settings/keys'
})
