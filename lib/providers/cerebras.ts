import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const cerebras: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'cerebras',
  label: 'Cerebras',
  env: 'CEREBRAS_API_KEY',
  // source: inference-docs.cerebras.ai — OpenAI-compatible base https://api.cerebras.ai/v1, Bearer auth
  baseUrl: 'https://api.cerebras.ai',
  // source: cerebras-cloud-sdk client.models.list() — GET /v1/models (trufflehog PR, unmerged, probes the same)
  probe: { path: '/v1/models' },
  // source: cerebras-cloud-sdk models.list — { object: 'list', data: […] }
  valid: jsonWith('data'),
  // csk- with 48 lower-case alphanumerics; csk_ is reported too.
  // source: trufflehog PR (unmerged) — csk-[a-z0-9]{48}; agentdock docs — "keys starting with csk- or csk_"
  key: { pattern: /^csk[-_][a-z0-9]{48}$/, prefixes: ['csk-', 'csk_'] },
  // source: inference-docs.cerebras.ai — keys are created in the Cerebras Cloud console
  dashboard: 'https://cloud.cerebras.ai'
})
