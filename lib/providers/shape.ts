import type { ProbeAnswer } from './types.js'

function isJsonType (answer: ProbeAnswer): boolean {
  const type = answer.headers['content-type']
  return type === undefined || /\bjson\b/i.test(type)
}

function prefixHasKeys (text: string, keys: readonly string[]): boolean {
  if (!/^\s*[[{]/.test(text)) return false
  return keys.every((key) => new RegExp(`"${key}"\\s*:`).test(text))
}

/**
 * A `valid` predicate: a JSON object that has every one of `keys`. When the body was longer than the
 * read cap (a long model list), the cut prefix must look like that object.
 */
export function jsonWith (...keys: string[]): (answer: ProbeAnswer) => boolean {
  return (answer) => {
    if (!isJsonType(answer)) return false
    if (answer.truncated) return prefixHasKeys(answer.text, keys)
    const body = answer.json
    if (body === null || typeof body !== 'object') return false
    if (keys.length === 0) return true
    return !Array.isArray(body) && keys.every((key) => key in body)
  }
}

/** A `valid` predicate for a JSON array (Together answers its model list as one). */
export function jsonListOrWith (...keys: string[]): (answer: ProbeAnswer) => boolean {
  const withKeys = jsonWith(...keys)
  return (answer) => {
    if (!isJsonType(answer)) return false
    if (answer.truncated) return /^\s*\[/.test(answer.text) || prefixHasKeys(answer.text, keys)
    return Array.isArray(answer.json) || withKeys(answer)
  }
}

/** Reads `body.a.b…` when every step is an object. */
export function field (body: unknown, ...path: string[]): unknown {
  let at = body
  for (const step of path) {
    if (at === null || typeof at !== 'object') return undefined
    at = (at as Record<string, unknown>)[step]
  }
  return at
}

/** The text of the usual error envelopes: `{error:{message}}`, `{error:"…"}`, `{message}`, `{detail}`. */
export function errorText (answer: ProbeAnswer): string {
  const body = answer.json
  const parts = [
    field(body, 'error', 'message'),
    field(body, 'error', 'code'),
    field(body, 'error', 'type'),
    field(body, 'error', 'status'),
    field(body, 'error'),
    field(body, 'message'),
    field(body, 'detail'),
    field(body, 'code')
  ]
  const text = parts.filter((part) => typeof part === 'string').join(' ')
  return text === '' ? answer.text : text
}
