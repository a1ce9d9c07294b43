import type { ProviderSpec } from './types.js'

export const langsmith: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'langsmith',
  label: 'LangSmith',
  env: 'LANGSMITH_API_KEY',
  // source: trufflehog pkg/detectors/langsmith — https://api.smith.langchain.com (EU: eu.api.smith.langchain.com via
  //   baseUrl)
  baseUrl: 'https://api.smith.langchain.com',
  // source: trufflehog pkg/detectors/langsmith — the key goes in X-API-Key
  auth: { header: 'x-api-key' },
  // source: trufflehog pkg/detectors/langsmith — GET /api/v1/api-key: 200 valid, 401 and 403 invalid
  probe: { path: '/api/v1/api-key' },
  // No valid predicate: the answer's shape is not documented publicly, so any JSON object or list counts.
  // source: trufflehog pkg/detectors/langsmith — lsv2_(pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}; gitleaks rules/langsmith.go
  //   — [a-z0-9]
  key: { pattern: /^lsv2_(?:pt|sk)_[a-z0-9]{32}_[a-z0-9]{10}$/, prefixes: ['lsv2_'] },
  // source: docs.smith.langchain.com — keys are managed in the settings
  dashboard: 'https://smith.langchain.com/settings'
})
