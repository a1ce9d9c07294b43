import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const huggingface: ProviderSpec = {
  id: 'huggingface',
  label: 'Hugging Face',
  env: 'HF_TOKEN',
  baseUrl: 'https://huggingface.co',
  probe: { path: '/api/whoami-v2' },
  valid: jsonWith('auth'),
  key: { pattern: /^(?:hf_|api_org_)[A-Za-z0-9]{34}$/, prefixes: ['hf_', 'api_org_'] },
  dashboard: 'https://huggingface.co/settings/tokens'
}
