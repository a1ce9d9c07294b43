import type { ProviderSpec } from './types.js'
import { errorText, field, jsonWith } from './shape.js'

export const openai: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'openai',
  label: 'OpenAI',
  env: 'OPENAI_API_KEY',
  // source: openai-node src/client.ts — default base https://api.openai.com/v1, Bearer auth
  baseUrl: 'https://api.openai.com',
  // source: trufflehog pkg/detectors/openai — a model list (and /v1/me) read proves the key, 401 refutes it
  probe: { path: '/v1/models' },
  // source: developers.openai.com API reference (models list) — { object: 'list', data: […] }
  valid: jsonWith('data'),
  classify (answer) {
    const text = errorText(answer)
    // Restricted keys missing a scope, and keys used from a disallowed IP, get 401, not 403.
    // source: microsoft/PowerToys#32989, anomalyco/opencode#21928 — 401 "insufficient permissions … Missing scopes"
    if (answer.status === 401 && /insufficient permissions|missing scopes/i.test(text)) {
      return { cause: 'forbidden', reason: 'missing-scope' }
    }
    // source: developers.openai.com/docs/guides/error-codes — 401 "IP not authorized" for an allow-listed org
    if (answer.status === 401 && /ip .*not authorized|not authorized .*ip/i.test(text)) {
      return { cause: 'forbidden', reason: 'ip-not-allowed' }
    }
    // source: developers.openai.com/docs/guides/error-codes — 403 unsupported_country_region_territory: a region
    //   block
    if (answer.status === 403 && /unsupported_country_region_territory/.test(text)) {
      return { cause: 'forbidden', reason: 'region-blocked' }
    }
    // source: developers.openai.com/docs/guides/error-codes — 429 insufficient_quota means out of credit, not a rate
    //   limit
    if (answer.status === 429 && field(answer.json, 'error', 'code') === 'insufficient_quota') {
      return { cause: 'limited', reason: 'quota' }
    }
    return undefined
  },
  // source: gitleaks rules/openai.go — sk-(proj|svcacct|admin)-…T3BlbkFJ… and legacy sk-{20}T3BlbkFJ{20};
  //   sk-None- seen in issues
  key: {
    pattern: /^sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}$|^sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}$/,
    prefixes: ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-None-'],
    // source: trufflehog pkg/detectors/openai — sk-admin- keys are verified on /v1/organization/admin_api_keys, not
    //   models
    adminPrefixes: ['sk-admin-']
  },
  // source: help.openai.com — keys are managed at platform.openai.com/api-keys
  dashboard: 'https://platform.openai.com/api-keys'
})
