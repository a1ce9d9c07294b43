import { createHash } from 'node:crypto'

/**
 * A short tag that tells keys apart without revealing them: the provider's public prefix (if the key
 * has one), `…` and the last four characters, as provider dashboards show them (`fw_…a1b2`). Keys
 * shorter than 24 characters get a hash tag instead (`sha256:1a2b3c4d`), since four characters of a
 * short key are too large a share of it.
 */
export function fingerprint (key: string, prefixes: readonly string[] = []): string {
  if (key.length < 24) return 'sha256:' + createHash('sha256').update(key).digest('hex').slice(0, 8)
  const prefix = prefixes.find((p) => key.startsWith(p)) ?? ''
  return `${prefix}…${key.slice(-4)}`
}

const MIN_SECRET = 8

/**
 * Replaces every occurrence of each secret (and of its common encodings) in `text` with `[REDACTED]`.
 * Library errors echo header values and URLs (`Headers.append: "Bearer …" is an invalid header value`),
 * so any text that may hold one passes through here before it is logged or shown.
 */
export function scrub (text: string, secrets: Iterable<string>): string {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET) continue
    for (const form of formsOf(secret)) if (text.includes(form)) forms.add(form)
  }
  if (forms.size === 0) return text
  let out = text
  // Longest first: a secret that contains another (an old key and its successor) must not leave its rest behind.
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join('[REDACTED]')
  return out
}

const FORMS = new Map<string, readonly string[]>()

/** A secret as it may appear in text: as is, URL-encoded, JSON-escaped, base64. Remembered for the last few secrets. */
function formsOf (secret: string): readonly string[] {
  let forms = FORMS.get(secret)
  if (forms === undefined) {
    forms = [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')])]
    if (FORMS.size >= 64) FORMS.delete(FORMS.keys().next().value as string)
    FORMS.set(secret, forms)
  }
  return forms
}

/** Depth of the `cause` chain scrubbed (pino's error serializer prints the whole chain). */
const CAUSE_DEPTH = 8

/**
 * Scrubs the secrets out of an error's message and stack, and out of its `cause` chain, in place.
 * Library errors carry them (`Headers.append: "Bearer …" is an invalid header value`, `Request cannot
 * be constructed from a URL that includes credentials: http://user:…@host`) and Fastify's default
 * error handler both logs the message and sends it. An error that holds none is left untouched.
 */
export function scrubError (error: unknown, secrets: readonly string[]): void {
  if (secrets.length === 0) return
  let err = error
  for (let depth = 0; depth < CAUSE_DEPTH && err !== null && typeof err === 'object'; depth++) {
    const e = err as { message?: unknown, stack?: unknown, cause?: unknown }
    // The stack is written from the message: it is read (and so formatted, which is costly) only
    // when the message held a secret.
    const message = typeof e.message === 'string' ? e.message : ''
    const clean = scrub(message, secrets)
    if (clean !== message) {
      try {
        e.message = clean
        if (typeof e.stack === 'string') e.stack = scrub(e.stack, secrets)
      } catch {}
    }
    err = e.cause
  }
}

/** Length of the key pieces `echoes` looks for (the canary rule of the test suite). */
const PIECE = 8

/**
 * Whether `text` holds any 8-character piece of a secret: an upstream request id or header that
 * echoes our key (an upstream, a proxy or a gateway copying the `Authorization` value) must be dropped.
 */
export function echoes (text: string, secrets: Iterable<string>): boolean {
  for (const secret of secrets) {
    const size = Math.min(PIECE, secret.length)
    if (size === 0) continue
    for (let i = 0; i + size <= secret.length; i++) {
      if (text.includes(secret.slice(i, i + size))) return true
    }
  }
  return false
}

const REQUEST_ID = /^[\w.:/+=-]{1,128}$/

/**
 * An upstream request id fit to log and to show a client: a short token that shares no piece with a
 * secret (a gateway may echo the `Authorization` value it was sent).
 */
export function requestIdOf (value: unknown, secrets: Iterable<string> = []): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) && !echoes(value, secrets) ? value : undefined
}
