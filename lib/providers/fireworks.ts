import type { ProviderSpec } from './types.js'
import { errorText, jsonWith } from './shape.js'

export const fireworks: ProviderSpec = {
  id: 'fireworks',
  label: 'Fireworks AI',
  env: 'FIREWORKS_API_KEY',
  baseUrl: 'https://api.fireworks.ai',
  // Not /inference/v1/models: it answers 500 to valid keys on accounts without deployments
  // (can1357/oh-my-pi#3219) and 403 to Fire Pass keys. The public catalog needs only a valid key.
  probe: { path: '/v1/accounts/fireworks/models?pageSize=1' },
  valid: jsonWith('models'),
  classify (answer) {
    // Fire Pass keys (fpk_…) are refused on list routes yet work for chat on router models.
    if (answer.status === 403 && /fire pass/i.test(errorText(answer))) return { cause: 'valid', reason: 'fire-pass' }
    // Fireworks suspends accounts without credit with 412 PRECONDITION_FAILED.
    if (answer.status === 412) return { cause: 'limited', reason: 'billing' }
    return undefined
  },
  key: { pattern: /^(?:fw_|fpk_)[A-Za-z0-9]{16,64}$/, prefixes: ['fw_', 'fpk_'] },
  dashboard: 'https://fireworks.ai/account/api-keys'
}
