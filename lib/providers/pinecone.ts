import type { ProviderSpec } from './types.js'
import { field, jsonWith } from './shape.js'

export const pinecone: ProviderSpec = Object.freeze<ProviderSpec>({
  id: 'pinecone',
  label: 'Pinecone',
  env: 'PINECONE_API_KEY',
  // source: trufflehog pkg/detectors/pinecone — control plane https://api.pinecone.io
  baseUrl: 'https://api.pinecone.io',
  // source: trufflehog pkg/detectors/pinecone — the key goes in Api-Key
  auth: { header: 'api-key' },
  // source: trufflehog pkg/detectors/pinecone — GET /indexes with X-Pinecone-Api-Version 2025-10, a read-only call
  probe: { path: '/indexes', headers: { 'x-pinecone-api-version': '2025-10' } },
  // source: trufflehog pkg/detectors/pinecone — a genuine 200 has an "indexes" key, even when empty
  valid: jsonWith('indexes'),
  classify (answer) {
    const code = field(answer.json, 'error', 'code')
    // A data-plane-only key authenticated but may not list indexes: valid, restricted.
    // source: trufflehog pkg/detectors/pinecone — 403 FORBIDDEN / PERMISSION_DENIED = a valid key without
    //   control-plane roles
    if (answer.status === 403 && (code === 'FORBIDDEN' || code === 'PERMISSION_DENIED')) {
      return { cause: 'valid', reason: 'restricted-key' }
    }
    return undefined
  },
  // source: trufflehog pkg/detectors/pinecone — pcsk_{key_id 5-6}_{secret ~63}, matched as
  //   pcsk_[A-Za-z0-9]{4,}_[A-Za-z0-9]{40,}
  key: { pattern: /^pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,80}$/, prefixes: ['pcsk_'] },
  // source: docs.pinecone.io — keys are managed per project in the console
  dashboard: 'https://app.pinecone.io'
})
