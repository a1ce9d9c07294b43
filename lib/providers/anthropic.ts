import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const anthropic: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'anthropic',
  label: 'Anthropic',
  env: 'ANTHROPIC_API_KEY',
  // source: @anthropic-ai/sdk src/client.ts — default base https://api.anthropic.com
  baseUrl: 'https://api.anthropic.com',
  // x-api-key with version 2023-06-01 is the most widely confirmed pairing (trufflehog, typeclaw).
  // source: platform.claude.com/docs/en/api/versioning — x-api-key plus anthropic-version 2023-06-01 is still
  //   accepted
  auth: { header: 'x-api-key' },
  // source: trufflehog pkg/detectors/anthropic — GET /v1/models proves the key
  probe: { path: '/v1/models?limit=1', headers: { 'anthropic-version': '2023-06-01' } },
  // source: platform.claude.com/docs/en/api/models-list — { data: […], has_more, first_id, last_id }
  valid: jsonWith('data'),
  classify (answer) {
    // source: providers.md §3 (Anthropic errors doc) — a tier spend cap answers 429 without retry-after; waiting
    //   will not clear it
    if (answer.status === 429 && answer.headers['retry-after'] === undefined) {
      return { cause: 'limited', reason: 'spend-cap' }
    }
    const envelope = field(answer.json, 'type') === 'error' ? field(answer.json, 'error', 'type') : undefined
    const named = /:|\bmodel\b/i.test(String(field(answer.json, 'error', 'message') ?? ''))
    // Anthropic's own envelope, {"type":"error","error":{"type":"not_found_error"}}, on the model list: the key is
    // disabled or unknown. A 404 without that envelope (another server at baseUrl) stays a wrong baseUrl.
    // lib/upstream.ts reads these rules for live traffic too, where a not_found_error that names what was
    // not found ("model: claude-…", "File not found: …") is about the request, not the key: left alone.
    // source: trufflehog pkg/detectors/anthropic — "404 is returned if api key is disabled or not found"
    if (answer.status === 404 && envelope === 'not_found_error' && !named) {
      return { cause: 'rejected', reason: 'unknown-key' }
    }
    // source: providers.md appendix (2026-11-29) — a region block arrives as 403
    //   {"error":{"type":"forbidden","message":"Request not allowed"}}
    if (answer.status === 403 && field(answer.json, 'error', 'type') === 'forbidden') {
      return { cause: 'forbidden', reason: 'region-blocked' }
    }
    return undefined
  },
  // source: gitleaks rules/anthropic.go, trufflehog pkg/detectors/anthropic — sk-ant-(api03|admin01)-[\w-]{93}AA, 108
  //   characters
  key: {
    pattern: /^sk-ant-(?:api03|admin01)-[\w-]{93}AA$/,
    prefixes: ['sk-ant-'],
    minLength: 40,
    // source: trufflehog pkg/detectors/anthropic — admin keys are verified on /v1/organizations/api_keys, not the
    //   model list
    adminPrefixes: ['sk-ant-admin01-']
  },
  // source: platform.claude.com docs — keys are managed in the console's settings
  dashboard: 'https://console.anthropic.com/settings/keys'
})
