import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const perplexity: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'perplexity',
  label: 'Perplexity',
  env: 'PERPLEXITY_API_KEY',
  // source: docs.perplexity.ai — base https://api.perplexity.ai, Bearer auth
  baseUrl: 'https://api.perplexity.ai',
  // UNVERIFIED: Perplexity documents no free, authenticated read on the chat base. The docs show
  // /router/v1/models, whose need for a valid key is unknown; an unmerged trufflehog PR probes /models.
  // source: trufflehog PR #4567 (unmerged) pkg/detectors/perplexity — GET /models, 401 and 403 = invalid
  probe: { path: '/models' },
  // source: unverified — an OpenAI-style list { data: […] } is assumed; any other 200 is "could not be verified"
  valid: jsonWith('data'),
  // source: gitleaks rules/perplexity.go — pplx-[\w]{48}
  key: { pattern: /^pplx-\w{48}$/, prefixes: ['pplx-'] },
  // source: docs.perplexity.ai — keys are managed in the API settings
  dashboard: 'https://www.perplexity.ai/settings/api'
})
