import type { ProviderSpec } from './types.js'
import { errorText, jsonWith } from './shape.js'

export const fireworks: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'fireworks',
  label: 'Fireworks AI',
  env: 'FIREWORKS_API_KEY',
  // source: fw-ai-external/python-sdk src/fireworks/_client.py — default base https://api.fireworks.ai, Bearer auth
  baseUrl: 'https://api.fireworks.ai',
  // Not /inference/v1/models: it answers 500 to valid keys on accounts without deployments
  // (can1357/oh-my-pi#3219) and 403 to Fire Pass keys. The public catalog needs only a valid key.
  // source: docs.fireworks.ai/api-reference/list-models — GET /v1/accounts/{account}/models, paged
  probe: { path: '/v1/accounts/fireworks/models?pageSize=1' },
  // source: docs.fireworks.ai/api-reference/list-models — the answer is { models: […], nextPageToken }
  valid: jsonWith('models'),
  classify (answer) {
    // Fire Pass keys (fpk_…) are refused on list routes yet work for chat on router models. UNVERIFIED for
    // the route probed here: the public reports of the 403 are all on /inference/v1/models; no public doc
    // or SDK source says what /v1/accounts/fireworks/models answers a Fire Pass key. The rule stays so
    // that such a 403, if it comes, is not read as a bad key.
    // source: diegosouzapw/OmniRoute#2929 — 403 "Fire Pass API keys are not authorized for this route." on
    //   /inference/v1/models
    if (answer.status === 403 && /fire pass/i.test(errorText(answer))) return { cause: 'valid', reason: 'fire-pass' }
    // source: pollinations/pollinations#12139 — Fireworks suspends accounts without credit with 412
    //   PRECONDITION_FAILED
    if (answer.status === 412) return { cause: 'limited', reason: 'billing' }
    return undefined
  },
  // source: community regexes fw_[A-Za-z0-9]{20,} and oh-my-pi placeholders — no official rule; lengths vary (loose
  //   on purpose)
  key: { pattern: /^(?:fw_|fpk_)[A-Za-z0-9]{16,64}$/, prefixes: ['fw_', 'fpk_'] },
  // source: docs.fireworks.ai/api-reference/create-api-key — keys are created in the account settings
  dashboard: 'https://fireworks.ai/account/api-keys'
})
