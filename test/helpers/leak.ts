import { echoes, SecretForms } from '../../lib/core/redact.js'

// One cache for the whole test process: the forms of a test key are computed once.
const forms = new SecretForms()

/**
 * The pieces of `secret` found in `text`: empty when nothing leaked. "Leak" is the product's own rule
 * (`echoes` in lib/core/redact.ts): any 8-character piece of the secret, as is or in any form `scrub()`
 * knows (URL-encoded, JSON-escaped, base64 at each byte alignment, standard and URL alphabets); a
 * secret shorter than a piece, whole. The pieces are returned so that a failing test shows what leaked.
 */
export function leaks (text: string, secret: string): string[] {
  if (!echoes(text, [secret], forms)) return []
  return [...forms.of(secret).pieces].filter((piece) => text.includes(piece))
}

/** Whether `text` holds a piece of any of `secrets` in any form (`leaks`). */
export function leaksAny (text: string, secrets: Iterable<string>): boolean {
  return echoes(text, secrets, forms)
}
