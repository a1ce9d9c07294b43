import type { ProviderSpec } from '../providers/types.js'
import { parseJson } from '../core/http.js'

/** A guarded key as the upstream side sees it: where its provider's answers come from. */
export interface Target {
  name: string
  provider: ProviderSpec
  origin: string
  prefix: string
}

/** A request header's value, whichever form the dispatch options hold headers in. */
function headerOf (headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined
  if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, …]
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1])
    }
    return undefined
  }
  const pairs = typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function'
    ? [...(headers as Iterable<[unknown, unknown]>)]
    : Object.entries(headers)
  for (const [key, value] of pairs) {
    if (String(key).toLowerCase() === name) return Array.isArray(value) ? String(value[0]) : String(value)
  }
  return undefined
}

/** The credential a request carried in the provider's auth header, without its scheme (`Bearer`, `Token`). */
export function credentialOf (headers: unknown, header: string): string | undefined {
  const value = headerOf(headers, header.toLowerCase())?.trim()
  if (value === undefined || value === '') return undefined
  return header.toLowerCase() === 'authorization' ? value.replace(/^[A-Za-z]+ +/, '') : value
}

/** Whether a request path (with its query) lies under a base path: `/gw` holds `/gw/v1` and `/gw?x`, not `/gwx`. */
function under (path: string, prefix: string): boolean {
  // Past the end, charAt gives '', which every string includes.
  return path.startsWith(prefix) && '/?#'.includes(path.charAt(prefix.length))
}

/** Finds the guarded key whose base URL a request URL falls under (the longest path prefix wins). */
export function targetOf (targets: readonly Target[], origin: string, path: string): Target | undefined {
  let best: Target | undefined
  for (const target of targets) {
    if (target.origin !== origin || !under(path, target.prefix)) continue
    if (best === undefined || target.prefix.length > best.prefix.length) best = target
  }
  return best
}

/** Whether a non-401 upstream answer is the provider's own invalid-key answer (Gemini's 400 API_KEY_INVALID). */
export function rejects (target: Target, status: number, headers: Record<string, string>, text: string): boolean {
  if (status < 400 || status >= 500 || target.provider.classify === undefined) return false
  try {
    const answer = { status, headers, text, json: parseJson(text), truncated: false }
    return target.provider.classify(answer)?.cause === 'rejected'
  } catch {
    // A custom provider's rule that throws judges nothing here; the probe path logs it (`provider-code`).
    return false
  }
}

/** The guarded keys' targets, from their base URLs. */
export function targetsOf (keys: ReadonlyArray<{ name: string, provider: ProviderSpec, baseUrl: string }>): Target[] {
  return keys.map(({ name, provider, baseUrl }) => {
    const url = new URL(baseUrl)
    return { name, provider, origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') }
  })
}

/** The guarded key a URL points at, if it carries one. */
export function targetOfUrl (targets: readonly Target[], url: unknown): Target | undefined {
  if (typeof url !== 'string') return undefined
  try {
    const parsed = new URL(url)
    return targetOf(targets, parsed.origin, parsed.pathname)
  } catch {
    return undefined
  }
}
