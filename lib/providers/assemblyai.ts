import type { ProviderSpec } from './types.js'
import { jsonWith } from './shape.js'

export const assemblyai: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'assemblyai',
  label: 'AssemblyAI',
  env: 'ASSEMBLYAI_API_KEY',
  // source: trufflehog pkg/detectors/assemblyai — https://api.assemblyai.com
  baseUrl: 'https://api.assemblyai.com',
  // source: trufflehog pkg/detectors/assemblyai — the raw key in Authorization, no scheme
  auth: { header: 'authorization' },
  // The invalid-key body is UNVERIFIED (no public capture found); only the status is classified.
  // source: trufflehog pkg/detectors/assemblyai — GET /v2/transcript (the transcript list), 2xx = a valid key
  probe: { path: '/v2/transcript?limit=1' },
  // source: assemblyai.com/docs API reference (list transcripts) — { page_details, transcripts: […] }
  valid: jsonWith('transcripts'),
  // No prefix of its own.
  // source: trufflehog pkg/detectors/assemblyai — [0-9a-z]{32} near the word assemblyai
  key: { pattern: /^[0-9a-z]{32}$/ },
  // source: assemblyai.com/docs — keys are managed in the dashboard
  dashboard: 'https://www.assemblyai.com/app/api-keys'
})
