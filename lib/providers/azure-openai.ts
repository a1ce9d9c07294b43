import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const azureOpenai: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'azure-openai',
  label: 'Azure OpenAI',
  env: 'AZURE_OPENAI_API_KEY',
  // Each resource has its own host; there is no shared endpoint to default to, so baseUrl is required.
  // source: learn.microsoft.com/rest/api/azureopenai/models/list — endpoint is https://<resource>.openai.azure.com
  baseUrl: 'https://resource-name.openai.azure.com',
  // source: learn.microsoft.com/rest/api/azureopenai/models/list — "endpoint … Replace aoairesource with your
  //   account name"
  requiresBaseUrl: 'your resource endpoint, e.g. https://<resource>.openai.azure.com (AZURE_OPENAI_ENDPOINT in SDKs)',
  // source: learn.microsoft.com/rest/api/azureopenai/models/list — the key goes in the api-key header
  auth: { header: 'api-key' },
  // trufflehog lists deployments with api-version 2023-03-15-preview and notes it may be retired; the
  // models list is the documented GA read.
  // source: learn.microsoft.com/rest/api/azureopenai/models/list — GET
  //   {endpoint}/openai/models?api-version=2024-10-21
  probe: { path: '/openai/models?api-version=2024-10-21' },
  // source: learn.microsoft.com/rest/api/azureopenai/models/list — 200 ModelList { data: […] }
  valid: jsonWith('data'),
  // 32 hex (older resources) or 84 characters with the JQQJ99 marker (newer ones); no prefix of its own.
  // source: trufflehog pkg/detectors/azure_openai — [a-f0-9]{32}; public Azure samples (code search "JQQJ99") —
  //   84-char keys
  key: { pattern: /^[a-f0-9]{32}$|^[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{26}$/ },
  // source: learn.microsoft.com (Azure OpenAI quickstart) — keys are under the resource's Keys and Endpoint page
  dashboard: 'https://portal.azure.com (your Azure OpenAI resource, Keys and Endpoint)'
})
