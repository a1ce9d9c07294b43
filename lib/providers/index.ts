import { anthropic } from './anthropic.js'
import { assemblyai } from './assemblyai.js'
import { azureOpenai } from './azure-openai.js'
import { cerebras } from './cerebras.js'
import { cohere } from './cohere.js'
import { deepgram } from './deepgram.js'
import { deepseek } from './deepseek.js'
import { elevenlabs } from './elevenlabs.js'
import { fireworks } from './fireworks.js'
import { gemini } from './gemini.js'
import { groq } from './groq.js'
import { huggingface } from './huggingface.js'
import { langsmith } from './langsmith.js'
import { mistral } from './mistral.js'
import { nvidia } from './nvidia.js'
import { openai } from './openai.js'
import { openrouter } from './openrouter.js'
import { perplexity } from './perplexity.js'
import { pinecone } from './pinecone.js'
import { replicate } from './replicate.js'
import { together } from './together.js'
import { xai } from './xai.js'
import type { ProviderSpec } from './types.js'

export type { ProbeAnswer, ProbeRefinement, ProviderSpec } from './types.js'

/** Every provider keyguard ships, by id. */
export const providers = Object.freeze({
  fireworks,
  openai,
  anthropic,
  groq,
  together,
  mistral,
  cohere,
  gemini,
  deepseek,
  openrouter,
  xai,
  huggingface,
  replicate,
  'azure-openai': azureOpenai,
  perplexity,
  cerebras,
  elevenlabs,
  pinecone,
  nvidia,
  deepgram,
  assemblyai,
  langsmith
} satisfies Record<string, ProviderSpec>)

/** The id of a provider keyguard ships. */
export type ProviderId = keyof typeof providers

/** Prefixes that identify another provider's or service's credential (not an AI provider we probe). */
export const foreignPrefixes: ReadonlyArray<{ label: string, prefix: string }> = Object.freeze([
  { label: 'GitHub token', prefix: 'ghp_' },
  { label: 'GitHub token', prefix: 'github_pat_' },
  { label: 'GitHub token', prefix: 'gho_' },
  { label: 'Slack token', prefix: 'xoxb-' },
  { label: 'Slack token', prefix: 'xoxp-' },
  { label: 'AWS access key id', prefix: 'AKIA' },
  { label: 'Stripe key', prefix: 'sk_live_' },
  { label: 'Stripe key', prefix: 'sk_test_' }
])

/**
 * Every shipped provider's public key prefixes, longest first (`sk-proj-` before `sk-`): what names a
 * credential's kind in a fingerprint, and what marks a string as the start of a key.
 */
export const keyPrefixes: readonly string[] = Object.freeze(Object.values(providers as Record<string, ProviderSpec>)
  .flatMap((spec) => spec.key?.prefixes ?? []).sort((a, b) => b.length - a.length))
