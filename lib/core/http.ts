/**
 * Small HTTP readings shared by the probe, the watching dispatcher and the SDK error reader, so each
 * rule exists once: how headers are flattened, how a body is parsed, where a request id is found.
 */

/**
 * Headers as the classifiers see them: names lower-cased, repeated values joined with `, `. Takes a
 * plain record (node:http, undici) or a Fetch `Headers` (SDK errors).
 */
export function headerRecord (headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (headers === null || typeof headers !== 'object') return out
  const h = headers as { entries?: unknown, get?: unknown }
  const entries: Iterable<[string, unknown]> = typeof h.entries === 'function' && typeof h.get === 'function'
    ? (headers as Headers).entries()
    : Object.entries(headers)
  for (const [name, value] of entries) {
    if (Array.isArray(value)) out[name.toLowerCase()] = value.join(', ')
    else if (typeof value === 'string' || typeof value === 'number') out[name.toLowerCase()] = String(value)
  }
  return out
}

/** A body parsed as JSON, or `undefined` when it is not JSON (or was cut short). */
export function parseJson (text: string, truncated = false): unknown {
  if (truncated) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The upstream's request id among headers flattened by `headerRecord` (it is checked before use). */
export const requestIdHeader = (headers: Readonly<Record<string, string>>): string | undefined =>
  headers['x-request-id'] ?? headers['request-id']
