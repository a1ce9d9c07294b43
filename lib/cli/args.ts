import { parseArgs } from 'node:util'
import { checkBaseUrl, ENV_NAME, KNOWN, LIMITS } from '../core/options.js'
import type { KeySpec, OptionsError } from '../core/options.js'
import { looksLikeKey } from '../core/redact.js'
import { providers } from '../providers/index.js'
import type { ProviderId } from '../providers/index.js'

/** A bad command line: exit 64 with the message and a short usage. */
export class UsageError extends Error {}

/** Shows a command-line word only when it cannot be a piece of a key (every provider's keys are longer). */
function shown (word: string): string {
  return /^-{0,2}[\w.-]{1,15}$/.test(word) ? `"${word}"` : `(an argument of ${word.length} characters)`
}

const FLAGS = Object.freeze({
  env: { type: 'string' },
  'env-file': { type: 'string' },
  'base-url': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' }
} as const)

export interface Parsed {
  help: boolean
  version: boolean
  json: boolean
  words: string[]
  env?: string
  'env-file'?: string
  'base-url'?: string
  timeout?: string
}

/**
 * Reads the arguments with `node:util.parseArgs`, in its non-strict mode: its own errors quote the
 * argument, which may be a key pasted in the wrong place, so the tokens are checked here and described.
 */
export function parse (argv: readonly string[]): Parsed {
  const { tokens } = parseArgs({ args: [...argv], options: FLAGS, strict: false, allowPositionals: true, tokens: true })
  const parsed: Parsed = { help: false, version: false, json: false, words: [] }
  for (const token of tokens) {
    if (token.kind === 'positional') parsed.words.push(token.value)
    if (token.kind !== 'option') continue
    const flag = Object.hasOwn(FLAGS, token.name) ? FLAGS[token.name as keyof typeof FLAGS] : undefined
    if (flag === undefined || (flag.type === 'boolean' && token.value !== undefined)) {
      throw new UsageError(`unknown option ${shown(token.rawName)}`)
    }
    if (flag.type === 'boolean') {
      parsed[token.name as 'help' | 'version' | 'json'] = true
      continue
    }
    const field = token.name as 'env' | 'env-file' | 'base-url' | 'timeout'
    if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value`)
    if (parsed[field] !== undefined) throw new UsageError(`${token.rawName} is given twice`)
    parsed[field] = token.value
  }
  return parsed
}

export interface Plan {
  ids: ProviderId[]
  keys: Array<ProviderId | KeySpec>
  timeout?: number
}

/** A probe deadline given on the command line, checked by the option's own rule. */
function timeoutOf (text: string): number {
  const { min, max } = LIMITS.timeout
  const value = /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= max)) {
    throw new UsageError(`--timeout must be a whole number of milliseconds from ${min} to ${max}`)
  }
  return value
}

export function plan (parsed: Parsed): Plan {
  const [command, ...ids] = parsed.words
  if (command === undefined) throw new UsageError('missing command: check')
  if (command !== 'check') throw new UsageError(`unknown command ${shown(command)}; the command is check`)
  for (const id of ids) {
    if (!(KNOWN as string[]).includes(id)) {
      throw new UsageError(`unknown provider ${shown(id)}; known providers: ${KNOWN.join(', ')}`)
    }
  }
  if (new Set(ids).size !== ids.length) throw new UsageError('a provider is named twice')
  const out: Plan = { ids: ids as ProviderId[], keys: ids as ProviderId[] }
  const baseUrl = parsed['base-url']
  if (parsed.env !== undefined || baseUrl !== undefined) {
    if (ids.length !== 1) throw new UsageError('--env and --base-url apply to one provider: name exactly one')
    const spec: KeySpec = { provider: out.ids[0] as ProviderId }
    if (parsed.env !== undefined) spec.env = envName(parsed.env, out.ids[0] as ProviderId)
    if (baseUrl !== undefined) {
      try {
        spec.baseUrl = checkBaseUrl(baseUrl, '--base-url')
      } catch (err) {
        // The option's own check (it throws only option errors), read through its fields, never its message.
        const { expected, found } = err as OptionsError
        throw new UsageError(`--base-url must be ${expected}; ${String(found)}`)
      }
    }
    out.keys = [spec]
  }
  if (parsed.timeout !== undefined) out.timeout = timeoutOf(parsed.timeout)
  return out
}

function envName (name: string, id: ProviderId): string {
  if (looksLikeKey(name)) {
    throw new UsageError(`--env takes the name of a variable (e.g. ${providers[id].env}), and was given a value ` +
      'that looks like a key; it is not shown. Pass the name: --env MY_KEY_VARIABLE')
  }
  if (!ENV_NAME.test(name)) {
    const rule = 'letters, digits and _, not starting with a digit'
    throw new UsageError(`--env must be an environment variable name (${rule})`)
  }
  return name
}
