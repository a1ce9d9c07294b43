import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const nvidia: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'nvidia',
  label: 'NVIDIA NIM',
  env: 'NVIDIA_API_KEY',
  // source: vava-nessa/free-coding-models#98, anomalyco/opencode#48728 — NIM base
  //   https://integrate.api.nvidia.com/v1, Bearer
  baseUrl: 'https://integrate.api.nvidia.com',
  // UNVERIFIED that this route refuses a bad key: gethouston/houston#1243 saw it list the whole catalog
  // for every key it tried. trufflehog verifies nvapi- keys with POST api.ngc.nvidia.com/v3/keys/get-caller-info
  // and the key in a form body, which a header-only probe cannot send.
  // source: Ancient23/video-search-and-summarization test_nvidia_api.sh — GET /v1/models with Bearer as the key check
  probe: { path: '/v1/models' },
  // source: gethouston/houston#1243 — /v1/models lists the models as { data: […] }
  valid: jsonWith('data'),
  // source: trufflehog pkg/detectors/nvapi — nvapi-[a-zA-Z0-9_-]{64}
  key: { pattern: /^nvapi-[\w-]{64}$/, prefixes: ['nvapi-'] },
  // source: vava-nessa/free-coding-models#98 — NIM keys are created at build.nvidia.com
  dashboard: 'https://build.nvidia.com'
})
