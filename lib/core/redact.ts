import { createHash } from 'node:crypto'
import { providers } from '../providers/index.js'
import type { ProviderSpec } from '../providers/types.js'

/** Keys shorter than `shortest` characters get a hash tag of `hexDigits` hex digits. */
export const FINGERPRINT = Object.freeze({ shortest: 24, hexDigits: 8 })

/**
 * A short tag that tells keys apart without revealing them: the provider's public prefix (if the key
 * has one), `…` and the last four characters, as provider dashboards show them (`fw_…a1b2`). Keys
 * shorter than 24 characters get a hash tag instead (`sha256:1a2b3c4d`), since four characters of a
 * short key are too large a share of it.
 */
export function fingerprint (key: string, prefixes: readonly string[] = []): string {
  if (key.length < FINGERPRINT.shortest) {
    return 'sha256:' + createHash('sha256').update(key).digest('hex').slice(0, FINGERPRINT.hexDigits)
  }
  const prefix = prefixes.find((p) => key.startsWith(p)) ?? ''
  return `${prefix}…${key.slice(-4)}`
}

/** Length of the key pieces `echoes` looks for (the canary rule of the test suite). */
const PIECE = 8

/** Secrets whose forms one cache remembers; the oldest is forgotten first. */
const FORMS_KEPT = 64

/**
 * The forms of secrets one app has seen, remembered so that scrubbing an error or checking an upstream
 * request id does not re-encode every key each time. Each app (its Guard) owns one and empties it on
 * close: nothing about a key outlives the app that used it, nor is shared with another app.
 */
export class SecretForms {
  readonly #forms = new Map<string, Forms>()

  /** Secrets remembered. */
  get size (): number {
    return this.#forms.size
  }

  /** The forms of `secret`, computed once. */
  of (secret: string): Forms {
    let forms = this.#forms.get(secret)
    if (forms === undefined) {
      forms = formsOf(secret)
      if (this.#forms.size >= FORMS_KEPT) this.#forms.delete(this.#forms.keys().next().value as string)
      this.#forms.set(secret, forms)
    }
    return forms
  }

  /** Forgets every secret (the app is closing). */
  clear (): void {
    this.#forms.clear()
  }
}

/** A secret's forms, and the 8-character pieces of each, for `echoes`. */
interface Forms {
  /** Whole forms, longest first, as `scrub` replaces them. */
  whole: readonly string[]
  /** Every `PIECE`-character piece of every form (the whole form when it is shorter), made on first use. */
  readonly pieces: ReadonlySet<string>
  /** Lengths of the pieces shorter than `PIECE` (forms of a short secret). */
  short: readonly number[]
}

const b64 = (bytes: Buffer): string[] => [bytes.toString('base64'), bytes.toString('base64url')]

/**
 * A secret as it may appear in text: as is, URL-encoded, JSON-escaped, and base64 (standard and URL
 * alphabets) at each of the three byte alignments, as in `Basic base64(user:key)`. A misaligned
 * encoding shares only its middle with the key's own, so the first and last 4 characters, which
 * depend on the bytes around the key, are left out.
 */
function formsOf (secret: string): Forms {
  const found = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])
  for (const shift of [0, 1, 2]) {
    // The secret's UTF-8 after `shift` zero bytes (U+0000 is one zero byte in UTF-8): one buffer per shift.
    const encoded = b64(Buffer.from('\0'.repeat(shift) + secret))
    if (shift === 0) for (const form of encoded) found.add(form)
    for (const form of encoded) found.add(form.slice(shift === 0 ? 0 : 4, -4))
  }
  // A form shorter than the secret would match ordinary text; the rule stays a piece of the secret's length.
  const whole = [...found].filter((form) => form.length >= Math.min(PIECE, secret.length))
    .sort((a, b) => b.length - a.length)
  const short = new Set<number>()
  for (const form of whole) if (form.length < PIECE) short.add(form.length)
  // The pieces (about 300 for a 30-character key) are made only for a long text: a short one (a request
  // id) is scanned against the whole forms, which costs less than making them (issue 17: every key of a
  // boot checks its probe's request id once).
  let pieces: Set<string> | undefined
  const makePieces = (): Set<string> => {
    const made = new Set<string>()
    for (const form of whole) {
      const size = Math.min(PIECE, form.length)
      for (let i = 0; i + size <= form.length; i++) made.add(form.slice(i, i + size))
    }
    return made
  }
  return { whole, short: [...short], get pieces () { return (pieces ??= makePieces()) } }
}

const formsFor = (secret: string, cache: SecretForms | undefined): Forms =>
  cache === undefined ? formsOf(secret) : cache.of(secret)

/**
 * Replaces every occurrence of each secret (and of its common encodings) in `text` with `[REDACTED]`.
 * Library errors echo header values and URLs (`Headers.append: "Bearer …" is an invalid header value`),
 * so any text that may hold one passes through here before it is logged or shown. Secrets of any
 * length are scrubbed: a custom provider's 6-character key too. `cache` is the app's `SecretForms`.
 */
export function scrub (text: string, secrets: Iterable<string>, cache?: SecretForms): string {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (secret === '') continue
    for (const form of formsFor(secret, cache).whole) if (text.includes(form)) forms.add(form)
  }
  if (forms.size === 0) return text
  let out = text
  // Longest first: a secret that contains another (an old key and its successor) must not leave its rest behind.
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join('[REDACTED]')
  return out
}

/** Depth of the `cause` chain scrubbed (pino's error serializer prints the whole chain). */
const CAUSE_DEPTH = 8

/**
 * Scrubs the secrets out of an error's message and stack, and out of its `cause` chain, in place.
 * Library errors carry them (`Headers.append: "Bearer …" is an invalid header value`, `Request cannot
 * be constructed from a URL that includes credentials: http://user:…@host`) and Fastify's default
 * error handler both logs the message and sends it. An error that holds none is left untouched.
 */
export function scrubError (error: unknown, secrets: readonly string[], cache?: SecretForms): void {
  if (secrets.length === 0) return
  let err = error
  for (let depth = 0; depth < CAUSE_DEPTH && err !== null && typeof err === 'object'; depth++) {
    const e = err as { message?: unknown, stack?: unknown, cause?: unknown }
    // The stack is written from the message: it is read (and so formatted, which is costly) only
    // when the message held a secret.
    const message = typeof e.message === 'string' ? e.message : ''
    const clean = scrub(message, secrets, cache)
    if (clean !== message) {
      try {
        e.message = clean
        if (typeof e.stack === 'string') e.stack = scrub(e.stack, secrets, cache)
      } catch {}
    }
    err = e.cause
  }
}

/**
 * Whether `text` holds any 8-character piece of a secret, in any form `scrub` knows (base64, URL-encoded,
 * JSON-escaped): an upstream request id, redirect target or header that echoes our key (an upstream, a
 * proxy or a gateway copying the `Authorization` value) must be dropped. The one rule for upstream text.
 */
export function echoes (text: string, secrets: Iterable<string>, cache?: SecretForms): boolean {
  for (const secret of secrets) {
    if (secret === '') continue
    const forms = formsFor(secret, cache)
    if (text.length <= SHORT_TEXT) {
      if (scanEchoes(text, forms.whole)) return true
      continue
    }
    const { pieces, short } = forms
    for (let i = 0; i + PIECE <= text.length; i++) if (pieces.has(text.slice(i, i + PIECE))) return true
    for (const size of short) {
      for (let i = 0; i + size <= text.length; i++) if (pieces.has(text.slice(i, i + size))) return true
    }
  }
  return false
}

/** Texts up to this long are scanned against the whole forms, not their pieces. */
const SHORT_TEXT = 128

/** Whether `text` holds a `PIECE`-character piece of a form, or a whole form shorter than that. */
function scanEchoes (text: string, whole: readonly string[]): boolean {
  for (const form of whole) {
    if (form.length < PIECE) {
      if (text.includes(form)) return true
      continue
    }
    for (let i = 0; i + PIECE <= text.length; i++) if (form.includes(text.slice(i, i + PIECE))) return true
  }
  return false
}

/** Upstream text fit to keep: `value` unless it echoes a secret (`echoes`). */
export function upstreamText (value: string | undefined, secrets: Iterable<string>,
  cache?: SecretForms): string | undefined {
  return value === undefined || echoes(value, secrets, cache) ? undefined : value
}

const REQUEST_ID = /^[\w.:/+=-]{1,128}$/

/**
 * An upstream request id fit to log and to show a client: a short token that shares no piece with a
 * secret (a gateway may echo the `Authorization` value it was sent).
 */
export function requestIdOf (value: unknown, secrets: Iterable<string> = [], cache?: SecretForms): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) && !echoes(value, secrets, cache) ? value : undefined
}

// Names people give variables and keys: words in one case, Capitalised or camelCase, a short number after.
const WORD = /^(?:[A-Z]{1,20}|[A-Z]?[a-z]{1,20})(?:[A-Z][a-z]{1,20})*\d{0,4}$/
/** Whole-key patterns of the shipped providers. */
const KEY_PATTERNS: readonly RegExp[] = Object.freeze(Object.values(providers as Record<string, ProviderSpec>)
  .map((p) => p.key?.pattern).filter((pattern) => pattern instanceof RegExp))

/** A run of letters and digits that no one would type as (part of) a name: long, mixed, not one word. */
const randomLooking = (segment: string): boolean =>
  segment.length > 6 && !WORD.test(segment) && !/^\d{1,12}$/.test(segment) && new Set(segment).size > 4

/**
 * Whether a string given where a name belongs (a variable name, a key's name, a part of a path) may be
 * a key: it has a shipped provider's key format, or it holds a run of letters and digits that is no
 * word (`q1w2E3r4`). Provider keys are valid variable names, so a name is never trusted to be one.
 * Strings shorter than 8 characters hold no 8-character piece of anything and are names.
 */
export function looksLikeKey (name: string): boolean {
  // Control and other invisible characters are ignored: a key with a pasted newline is still a key.
  const text = name.replace(/[^\x21-\x7e]/g, '')
  if (text.length < PIECE) return false
  return KEY_PATTERNS.some((pattern) => pattern.test(text)) || text.split(/[^A-Za-z0-9]+/).some(randomLooking)
}

/**
 * A name as it may be printed: quoted, with invisible and control characters escaped, or, when it may
 * be a key put where a name belongs (`key(process.env.X)`, `env: process.env.X`), a description that
 * holds nothing of it. Every name that reaches a message, a log line or a problem document goes through here.
 *
 * @example safeName('fireworks') // '"fireworks"'
 * @example safeName(process.env.FIREWORKS_API_KEY) // 'a value that looks like a key (43 characters)'
 */
export function safeName (name: unknown): string {
  if (typeof name !== 'string') return name === null ? 'null' : `a ${typeof name}`
  if (looksLikeKey(name)) return `a value that looks like a key (${name.length} characters)`
  return `"${escapeText(name.replace(/[\\"]/g, '\\$&'))}"`
}

/**
 * `text` with every character outside printable ASCII written as `\uXXXX` (an ESC, a newline, a BOM, a
 * bidi override).
 */
export function escapeText (text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0'))
}
