import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const huggingface: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'huggingface',
  label: 'Hugging Face',
  env: 'HF_TOKEN',
  // source: @huggingface/hub src — Hub API at https://huggingface.co
  baseUrl: 'https://huggingface.co',
  // source: trufflehog pkg/detectors/huggingface, @huggingface/hub whoAmI — GET /api/whoami-v2 with Bearer
  probe: { path: '/api/whoami-v2' },
  // source: @huggingface/hub whoAmI types — the answer carries auth.accessToken or auth.type
  valid: jsonWith('auth'),
  // source: trufflehog pkg/detectors/huggingface — hf_[a-zA-Z0-9]{34}; gitleaks rules/huggingface.go — api_org_ org
  //   tokens
  key: { pattern: /^(?:hf_|api_org_)[A-Za-z0-9]{34}$/, prefixes: ['hf_', 'api_org_'] },
  // source: huggingface.co docs — tokens are managed in settings
  dashboard: 'https://huggingface.co/settings/tokens'
})
