import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import fc from 'fast-check'
import { inspect } from '../../lib/core/inspect.js'
import { foreignPrefixes, providers } from '../../lib/providers/index.js'
import type { ProviderSpec } from '../../lib/providers/types.js'

/**
 * Every key format each shipped provider issues, as segments: a literal, or random characters from an
 * alphabet with a length range. Lengths and alphabets come from references nobody here wrote (named in
 * `source`), not from lib/providers, so a pattern or a rule that is too narrow shows up as a failure.
 * Where two references differ, the wider alphabet is generated.
 */
export interface KeyFormat {
  name: string
  source: string
  segments: Array<string | [alphabet: string, min: number, max: number]>
  /** An admin key: refused in the provider's own slot, accepted by a spec that guards admin keys. */
  admin?: true
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const DIGITS = '0123456789'
const ALNUM = UPPER + LOWER + DIGITS
const WORD = ALNUM + '_'
const URLSAFE = ALNUM + '_-'
const HEX = DIGITS + 'abcdef'
const LOWNUM = DIGITS + LOWER

export const FORMATS: Readonly<Record<string, KeyFormat[]>> = {
  fireworks: [
    { name: 'fw_', source: 'community regexes fw_[A-Za-z0-9]{20,}; lengths vary (providers.md ⚠️)', segments: ['fw_', [ALNUM, 16, 64]] },
    { name: 'fpk_ (Fire Pass)', source: 'diegosouzapw/OmniRoute#2929 (fpk_ keys)', segments: ['fpk_', [ALNUM, 16, 64]] }
  ],
  openai: [
    ...['proj', 'svcacct', 'None'].flatMap((kind) => [58, 74].map((n): KeyFormat => ({
      name: `sk-${kind}- (${n})`,
      source: 'gitleaks rules/openai.go: sk-(proj|svcacct|admin)-[A-Za-z0-9_-]{58|74}T3BlbkFJ[A-Za-z0-9_-]{58|74}',
      segments: [`sk-${kind}-`, [URLSAFE, n, n], 'T3BlbkFJ', [URLSAFE, n, n]]
    }))),
    { name: 'legacy sk-', source: 'gitleaks rules/openai.go: sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}', segments: ['sk-', [ALNUM, 20, 20], 'T3BlbkFJ', [ALNUM, 20, 20]] },
    { name: 'sk-admin-', source: 'gitleaks rules/openai.go; trufflehog pkg/detectors/openai (admin keys)', segments: ['sk-admin-', [URLSAFE, 58, 74], 'T3BlbkFJ', [URLSAFE, 58, 74]], admin: true }
  ],
  anthropic: [
    { name: 'sk-ant-api03-', source: 'gitleaks rules/anthropic.go, trufflehog: sk-ant-api03-[\\w-]{93}AA', segments: ['sk-ant-api03-', [URLSAFE, 93, 93], 'AA'] },
    { name: 'sk-ant-admin01-', source: 'gitleaks rules/anthropic.go: sk-ant-admin01-[\\w-]{93}AA', segments: ['sk-ant-admin01-', [URLSAFE, 93, 93], 'AA'], admin: true }
  ],
  groq: [{ name: 'gsk_', source: 'trufflehog pkg/detectors/groq: gsk_[a-zA-Z0-9]{52}; gitleaks PR #2181 {48}', segments: ['gsk_', [ALNUM, 48, 52]] }],
  together: [
    { name: 'tgp_v1_', source: 'trufflehog PR #4943: tgp_v1_[A-Za-z0-9_-]{43}', segments: ['tgp_v1_', [URLSAFE, 43, 43]] },
    { name: 'legacy hex', source: 'providers.md: 64 hex (unconfirmed)', segments: [[HEX, 64, 64]] }
  ],
  mistral: [{ name: '32 alphanumerics', source: 'trufflehog PR #4953', segments: [[ALNUM, 32, 32]] }],
  cohere: [{ name: '40 alphanumerics', source: 'gitleaks rules/cohere.go', segments: [[ALNUM, 40, 40]] }],
  gemini: [
    { name: 'AIzaSy', source: 'trufflehog pkg/detectors/googlegemini: AIzaSy[\\w-]{33}; gitleaks rules/gcp.go AIza[\\w-]{35}', segments: ['AIzaSy', [URLSAFE, 33, 33]] },
    { name: 'AQ. auth key', source: 'JerryZLiu/Dayflow#282, vicajilau/quizdy#368 (AQ. prefix; length and alphabet unpublished)', segments: ['AQ.', [URLSAFE + '.', 30, 80]] },
    { name: 'IQ. auth key', source: 'providers.md (IQ. reported)', segments: ['IQ.', [URLSAFE + '.', 30, 80]] }
  ],
  deepseek: [{ name: 'sk- + 32', source: 'trufflehog pkg/detectors/deepseek: sk-[a-z0-9]{32}', segments: ['sk-', [LOWNUM, 32, 32]] }],
  openrouter: [{ name: 'sk-or-v1-', source: 'trufflehog pkg/detectors/openrouter: sk-or-v1-[0-9a-f]{64}', segments: ['sk-or-v1-', [HEX, 64, 64]] }],
  xai: [{ name: 'xai-', source: 'trufflehog pkg/detectors/xai: xai-[0-9a-zA-Z_]{80}', segments: ['xai-', [WORD, 80, 80]] }],
  huggingface: [
    { name: 'hf_', source: 'trufflehog pkg/detectors/huggingface: hf_[a-zA-Z0-9]{34}', segments: ['hf_', [ALNUM, 34, 34]] },
    { name: 'api_org_', source: 'gitleaks rules/huggingface.go: api_org_[a-zA-Z]{34}', segments: ['api_org_', [ALNUM, 34, 34]] }
  ],
  replicate: [{ name: 'r8_', source: 'trufflehog pkg/detectors/replicate: r8_[0-9A-Za-z_-]{37}', segments: ['r8_', [URLSAFE, 37, 37]] }],
  'azure-openai': [
    { name: '32 hex', source: 'trufflehog pkg/detectors/azure_openai: [a-f0-9]{32}', segments: [[HEX, 32, 32]] },
    {
      name: '84 characters (JQQJ99)',
      source: 'public Azure samples (code search "JQQJ99"): 52 + JQQJ99 + 2 + AC + 5 + XJ3w3AAA + 1 + ACOG + 4',
      segments: [[ALNUM, 52, 52], 'JQQJ99', [UPPER, 2, 2], 'AC', [ALNUM, 5, 5], 'XJ3w3AAA', [UPPER, 1, 1], 'ACOG', [ALNUM, 4, 4]]
    }
  ],
  perplexity: [{ name: 'pplx-', source: 'gitleaks rules/perplexity.go: pplx-[\\w]{48}', segments: ['pplx-', [WORD, 48, 48]] }],
  cerebras: [
    { name: 'csk-', source: 'trufflehog PR: csk-[a-z0-9]{48}', segments: ['csk-', [LOWNUM, 48, 48]] },
    { name: 'csk_', source: 'agentdock docs: keys start with csk- or csk_', segments: ['csk_', [LOWNUM, 48, 48]] }
  ],
  elevenlabs: [
    { name: 'sk_', source: 'trufflehog pkg/detectors/elevenlabs/v2: sk_[a-f0-9]{48}', segments: ['sk_', [HEX, 48, 48]] },
    { name: 'legacy 32 hex', source: 'trufflehog pkg/detectors/elevenlabs/v1: [a-f0-9]{32}', segments: [[HEX, 32, 32]] }
  ],
  pinecone: [{ name: 'pcsk_', source: 'trufflehog pkg/detectors/pinecone: pcsk_{key_id 5-6}_{secret ~63}', segments: ['pcsk_', [ALNUM, 4, 6], '_', [ALNUM, 40, 70]] }],
  nvidia: [{ name: 'nvapi-', source: 'trufflehog pkg/detectors/nvapi: nvapi-[a-zA-Z0-9_-]{64}', segments: ['nvapi-', [URLSAFE, 64, 64]] }],
  deepgram: [{ name: '40 [0-9a-z]', source: 'trufflehog pkg/detectors/deepgram', segments: [[LOWNUM, 40, 40]] }],
  assemblyai: [{ name: '32 [0-9a-z]', source: 'trufflehog pkg/detectors/assemblyai', segments: [[LOWNUM, 32, 32]] }],
  langsmith: ['pt', 'sk'].map((kind): KeyFormat => ({
    name: `lsv2_${kind}_`,
    source: 'trufflehog pkg/detectors/langsmith [a-f0-9]; gitleaks rules/langsmith.go [a-z0-9]',
    segments: [`lsv2_${kind}_`, [LOWNUM, 32, 32], '_', [LOWNUM, 10, 10]]
  }))
}

/** An arbitrary for one format. */
export function keyOf (format: KeyFormat): fc.Arbitrary<string> {
  const parts = format.segments.map((segment) => typeof segment === 'string'
    ? fc.constant(segment)
    : fc.string({ unit: fc.constantFrom(...segment[0]), minLength: segment[1], maxLength: segment[2] }))
  return fc.tuple(...parts).map((pieces) => pieces.join(''))
}

/** All shipped providers, as the plugin hands them to inspect(). */
export const ALL: readonly ProviderSpec[] = Object.values(providers)

/** The same provider guarding admin keys on purpose: no admin prefixes. */
export function adminGuard (provider: ProviderSpec): ProviderSpec {
  return { ...provider, key: { ...provider.key, adminPrefixes: [] } }
}

/**
 * Counts every outgoing connection or HTTP request the process starts (net sockets, node:http, undici
 * and fetch), through Node's diagnostics channels. `stop()` returns the count.
 */
export function watchNetwork (): { stop: () => number } {
  let count = 0
  const seen = (): void => { count++ }
  const channels = ['net.client.socket', 'http.client.request.start', 'undici:request:create']
  for (const name of channels) subscribe(name, seen)
  return {
    stop: () => {
      for (const name of channels) unsubscribe(name, seen)
      return count
    }
  }
}

export interface FormatRun { provider: string, format: string, runs: number, refused: number, ms: number, connections: number }

/**
 * Runs `runs` generated keys of every format of `id` through inspect(): none may be refused (an admin
 * format: refused as `admin-key` in the provider's slot, accepted by an admin guard). Throws fast-check's
 * report, with the shrunk counterexample, on the first failure.
 */
export function checkFormats (id: string, runs: number, seed?: number): FormatRun[] {
  const provider = (providers as Record<string, ProviderSpec>)[id] as ProviderSpec
  const out: FormatRun[] = []
  for (const format of FORMATS[id] ?? []) {
    const net = watchNetwork()
    const started = performance.now()
    fc.assert(fc.property(keyOf(format), (key) => {
      const own = inspect(key, provider, ALL, foreignPrefixes)
      if (format.admin === true) {
        if (own.ok || own.verdict.reason !== 'admin-key') return false
        return inspect(key, adminGuard(provider), ALL, foreignPrefixes).ok
      }
      return own.ok && own.key === key
    }), { numRuns: runs, ...(seed === undefined ? {} : { seed }) })
    out.push({ provider: id, format: format.name, runs, refused: 0, ms: performance.now() - started, connections: net.stop() })
  }
  return out
}
