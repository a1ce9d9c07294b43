import type { ProviderSpec } from '../providers/types.js'
import type { NoteCode, Verdict } from './causes.js'

/** The result of the offline checks: a clean key, or the verdict that stops it from being sent anywhere. */
export type Inspection =
  | { ok: true, key: string, notes: NoteCode[] }
  | { ok: false, verdict: Verdict, notes: NoteCode[] }

/** Default length window when a provider gives none. */
export const KEY_LENGTH = Object.freeze({ min: 16, max: 1024 })

const NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x00: 'null character',
  0x09: 'tab',
  0x0a: 'line feed',
  0x0d: 'carriage return',
  0x1b: 'escape',
  0x7f: 'delete',
  0xa0: 'no-break space',
  0xad: 'soft hyphen',
  0x034f: 'combining grapheme joiner',
  0x061c: 'Arabic letter mark',
  0x180e: 'Mongolian vowel separator',
  0x200b: 'zero-width space',
  0x200c: 'zero-width non-joiner',
  0x200d: 'zero-width joiner',
  0x200e: 'left-to-right mark',
  0x200f: 'right-to-left mark',
  0x2010: 'Unicode hyphen',
  0x2011: 'non-breaking hyphen',
  0x2012: 'figure dash',
  0x2013: 'en dash',
  0x2014: 'em dash',
  0x2018: 'left single quotation mark',
  0x2019: 'right single quotation mark',
  0x201c: 'left double quotation mark',
  0x201d: 'right double quotation mark',
  0x2026: 'horizontal ellipsis',
  0x2028: 'line separator',
  0x2029: 'paragraph separator',
  0x202f: 'narrow no-break space',
  0x2060: 'word joiner',
  0x2212: 'minus sign',
  0x3000: 'ideographic space',
  0xfeff: 'zero-width no-break space (byte-order mark)'
})

function hex (code: number): string {
  return 'U+' + code.toString(16).toUpperCase().padStart(4, '0')
}

/** A character's name and code point, e.g. `zero-width space (U+200B)`; never the character itself. */
export function nameOf (code: number): string {
  let name = NAMES[code]
  if (name === undefined) {
    if (code >= 0x0400 && code <= 0x04ff) name = 'Cyrillic letter (looks like a Latin one?)'
    else if (code >= 0x0370 && code <= 0x03ff) name = 'Greek letter (looks like a Latin one?)'
    else if (code >= 0xff01 && code <= 0xff5e) name = 'full-width form of an ASCII character'
    else if (code >= 0x2000 && code <= 0x200a) name = 'Unicode space'
    else if (code < 0x20 || (code >= 0x80 && code < 0xa0)) name = 'control character'
    else name = 'character'
  }
  return `${name} (${hex(code)})`
}

const isControl = (code: number): boolean => code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)
// Zero-width and format characters that render as nothing.
const isInvisible = (code: number): boolean =>
  code === 0xad || code === 0x034f || code === 0x061c || code === 0x180e || (code >= 0x200b && code <= 0x200f) ||
  (code >= 0x202a && code <= 0x202e) || (code >= 0x2060 && code <= 0x2064) || (code >= 0x2066 && code <= 0x2069) ||
  code === 0xfeff

/**
 * First character that matches (1-based position in the raw value, `offset` characters were trimmed before it),
 * and how many do.
 */
function find (
  chars: readonly string[], offset: number, test: (code: number) => boolean
): { position: number, character: string, count: number } | undefined {
  let first = -1
  let count = 0
  for (let i = 0; i < chars.length; i++) {
    if (test((chars[i] as string).codePointAt(0) as number)) {
      if (first < 0) first = i
      count++
    }
  }
  if (first < 0) return undefined
  return { position: offset + first + 1, character: nameOf((chars[first] as string).codePointAt(0) as number), count }
}

const PLACEHOLDER_WORDS: readonly string[] = Object.freeze([
  'changeme', 'change_me', 'change-me', 'todo', 'tbd', 'fixme', 'replace_me', 'replaceme', 'replace-me', 'none', 'null',
  'undefined', 'nil', 'empty', 'secret', 'password', 'apikey', 'api_key', 'api-key', 'key', 'token', 'dummy',
  'placeholder',
  'example', 'test', 'redacted', 'sample', 'default', 'false', 'true', 'nan'
])

const PLACEHOLDER_PATTERNS: readonly RegExp[] = Object.freeze([
  /^[<[(].*[>\])]$/, // <API_KEY>, [REDACTED], (your key)
  /^[x*.•…_-]+$/i, // xxx, ***, ..., ———
  /^(?:your|my|insert|enter|put|paste|add|replace)[\s_-]?.*(?:key|token|secret)/i,
  /(?:key|token|secret)[\s_-]?(?:here|goes[\s_-]?here)$/i,
  /^[a-z0-9]+[-_](?:\.{2,}|…|x{3,}|\*{3,})$/i, // sk-..., fw_xxx, sk-***
  // fw_your_fireworks_key
  /^[a-z0-9]+[-_](?:your|my|xxx|example|placeholder|dummy|fake|sample|test|changeme)(?:[-_]|$)/i,
  /x{6,}|\*{4,}|\.{3,}|…/i
])

const TEMPLATE = /\$\{[^}]*\}|\$\([^)]*\)|\{\{[^}]*\}\}|^%[A-Za-z_][A-Za-z0-9_]*%$|^\$[A-Za-z_][A-Za-z0-9_]*$/

function isPlaceholder (value: string, env: string): boolean {
  const lower = value.toLowerCase()
  if (PLACEHOLDER_WORDS.includes(lower) || lower === env.toLowerCase()) return true
  return PLACEHOLDER_PATTERNS.some((pattern) => pattern.test(value))
}

// Words placeholders are made of. Two of them as whole segments (`sk-your-openai-key-123`) mark a value
// as written by a person; a generated key holds two only by a chance far below one in a billion.
const PLACEHOLDER_SEGMENTS: readonly string[] = Object.freeze([
  'your', 'my', 'api', 'key', 'token', 'secret', 'here', 'goes', 'insert', 'enter', 'paste', 'put', 'replace',
  'example', 'placeholder', 'dummy', 'fake', 'sample', 'test', 'changeme', 'change', 'me', 'xxx', 'todo', 'value'
])

/** Shannon entropy of `text` in bits per character. */
export function entropy (text: string): number {
  // ASCII (every key body judged here) is counted in an array, without a Map and a string per character;
  // indexed loops, as a boot runs this code cold, where each step of a for-of allocates.
  const counts = new Uint32Array(128)
  let ascii = true
  for (let i = 0; ascii && i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 128) counts[code] = (counts[code] as number) + 1
    else ascii = false
  }
  let bits = 0
  if (ascii) {
    for (let code = 0; code < 128; code++) {
      const p = (counts[code] as number) / text.length
      if (p > 0) bits -= p * Math.log2(p)
    }
    return bits
  }
  const chars = new Map<string, number>()
  for (const char of text) chars.set(char, (chars.get(char) ?? 0) + 1)
  for (const count of chars.values()) bits -= (count / text.length) * Math.log2(count / text.length)
  return bits
}

/** Below this many bits per character a body is a run or a pattern (`AAAA…xxxx`), not randomness. */
export const GENERATED_ENTROPY = 2
/** Bodies shorter than this are never taken for generated: every issued format has a longer random part. */
export const GENERATED_LENGTH = 16

/**
 * Whether a value has the make-up of a generated key: only key characters, and after the provider's own
 * prefix at least 16 characters that mix two of lower case, upper case and digits, with the entropy of a
 * random string, and no placeholder words. Placeholder and template rules never judge such a value, so a
 * random key that happens to hold `-test-`, `xxxxxx` or `...` is never refused (test/keys.test.ts runs
 * every issued format through it; `npm run fuzz:keys` a million of each).
 */
export function generated (value: string, own: ProviderSpec): boolean {
  if (!/^[A-Za-z0-9._-]+$/.test(value)) return false
  const prefixes = Array.isArray(own.key?.prefixes) ? own.key.prefixes : []
  const prefix = prefixes.filter((p) => value.startsWith(p)).sort((a, b) => b.length - a.length)[0] ?? ''
  const body = value.slice(prefix.length)
  if (body.length < GENERATED_LENGTH) return false
  const classes = Number(/[a-z]/.test(body)) + Number(/[A-Z]/.test(body)) + Number(/[0-9]/.test(body))
  if (classes < 2 || entropy(body) < GENERATED_ENTROPY) return false
  let words = 0
  for (const segment of value.toLowerCase().split(/[-_.]/)) if (PLACEHOLDER_SEGMENTS.includes(segment)) words++
  return words < 2
}

/** The admin-key prefix of the provider's own that the value starts with, if any. */
function adminPrefix (value: string, own: ProviderSpec): string | undefined {
  const prefixes = own.key?.adminPrefixes
  return Array.isArray(prefixes) ? prefixes.find((p) => typeof p === 'string' && value.startsWith(p)) : undefined
}

/** The label of the provider or service whose distinctive prefix the value carries, if not the expected one. */
type Services = ReadonlyArray<{ label: string, prefix: string }>

function foreignOwner (
  value: string, own: ProviderSpec, others: readonly ProviderSpec[], services: Services
): string | undefined {
  if ((own.key?.prefixes ?? []).some((prefix) => value.startsWith(prefix))) return undefined
  if (own.key?.pattern?.test(value) === true) return undefined
  for (const other of others) {
    if (other.id === own.id) continue
    if ((other.key?.prefixes ?? []).some((prefix) => value.startsWith(prefix))) return other.label
  }
  // The base64 of "OpenAI" marks every OpenAI key, the legacy unprefixed ones too.
  if (own.id !== 'openai' && value.includes('T3BlbkFJ')) return 'OpenAI'
  return services.find((service) => value.startsWith(service.prefix))?.label
}

function looksBase64 (value: string, own: ProviderSpec): boolean {
  const prefixes = own.key?.prefixes ?? []
  let text = value
  for (let round = 0; round < 2; round++) {
    if (text.length < 16 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return false
    text = Buffer.from(text, 'base64').toString('latin1')
    if (!/^[\x21-\x7e]+$/.test(text)) return false
    if (prefixes.some((prefix) => text.startsWith(prefix)) || own.key?.pattern?.test(text) === true) return true
  }
  return false
}

const SURROUNDING = ' \t\r\n'
/** Printable ASCII without the space: `!` to `~`. */
const PRINTABLE = /^[\x21-\x7e]*$/

function fail (reason: string, notes: NoteCode[], facts?: Verdict['facts']): Inspection {
  const cause = reason === 'empty' || reason === 'blank' ? 'missing' : 'malformed'
  return { ok: false, verdict: facts === undefined ? { cause, reason } : { cause, reason, facts }, notes }
}

/**
 * The offline checks, run before any network call. Surrounding whitespace, line breaks and a leading
 * BOM are removed with a note; everything else that cannot be part of a key refuses it, with the
 * position and the character's name, never the value.
 */
export function inspect (
  raw: string, own: ProviderSpec, others: readonly ProviderSpec[], services: Services = []
): Inspection {
  const notes: NoteCode[] = []
  let value = raw
  if (value.startsWith('\uFEFF')) {
    value = value.slice(1)
    notes.push('bom')
  }
  // Loops, not /\s*$/: that regex takes quadratic time on a long run of inner whitespace.
  let start = 0
  let end = value.length
  while (start < end && SURROUNDING.includes(value[start] as string)) start++
  while (end > start && SURROUNDING.includes(value[end - 1] as string)) end--
  const around = value.slice(0, start) + value.slice(end)
  if (/[\r\n]/.test(around)) notes.push('newline')
  if (/[ \t]/.test(around)) notes.push('whitespace')
  // Positions count from the start of the raw value, as the operator sees it in the file or variable.
  const offset = raw.length - value.length + start
  value = value.slice(start, end)
  if (value === '') return fail(raw === '' ? 'empty' : 'blank', notes)

  // A value of printable ASCII alone (every issued key) holds no control, invisible, space or non-ASCII
  // character, and its characters are its UTF-16 units: the scans below are skipped (issue 17: a boot
  // inspects every key).
  const plain = PRINTABLE.test(value)
  const chars = plain ? undefined : Array.from(value)
  const length = chars?.length ?? value.length
  if (chars !== undefined) {
    const control = find(chars, offset, (code) => code !== 0x09 && isControl(code))
    if (control !== undefined) return fail('control-character', notes, control)
    const invisible = find(chars, offset, isInvisible)
    if (invisible !== undefined) return fail('invisible', notes, invisible)
  }
  // Before the pattern heuristics below, some of which take quadratic time on long inputs.
  const max = own.key?.maxLength ?? KEY_LENGTH.max
  if (length > max) return fail('too-long', notes, { length, max })

  // One quote is enough: a key holds none, and an unterminated one is a .env quoting mistake too.
  if (/^["'`]|["'`]$/.test(value)) return fail('quoted', notes)
  if (/^(?:authorization|proxy-authorization|x-api-key|x-goog-api-key|api-key)\s*:/i.test(value)) {
    return fail('header-line', notes)
  }
  // NAME=value, but not base64 padding (`…QQ==`, `…Q=`), which also follows a run of word characters.
  if (/^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=(?!=|$)/.test(value)) return fail('assignment', notes)
  if (/^(?:bearer|token|basic|apikey)[ \t]+\S/i.test(value)) return fail('auth-scheme', notes)
  // A value with the make-up of a generated key is judged by the probe, never by these word rules.
  if (!generated(value, own)) {
    if (TEMPLATE.test(value)) return fail('template', notes)
    if (isPlaceholder(value, own.env)) return fail('placeholder', notes)
  }

  if (chars !== undefined) {
    const space = find(chars, offset, (code) => code === 0x20 || code === 0x09)
    if (space !== undefined) return fail('inner-whitespace', notes, { position: space.position, count: space.count })
    const foreign = find(chars, offset, (code) => code > 0x7e)
    if (foreign !== undefined) return fail('non-ascii', notes, foreign)
  }

  const other = foreignOwner(value, own, others, services)
  if (other !== undefined) return fail('wrong-provider', notes, { other })
  // An admin key authenticates, but only on the organisation's management routes: the app cannot use it.
  if (adminPrefix(value, own) !== undefined) return fail('admin-key', notes)
  if (looksBase64(value, own)) return fail('base64', notes)

  const min = own.key?.minLength ?? KEY_LENGTH.min
  if (length < min) return fail('too-short', notes, { length, min })
  if (own.key?.pattern !== undefined && !own.key.pattern.test(value)) notes.push('shape')
  return { ok: true, key: value, notes }
}
