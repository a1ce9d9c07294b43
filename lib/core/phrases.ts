import type { Facts, Subject, Verdict } from './causes.js'

/** Renders one reason: the message, and the fix. */
export type Render = (s: Subject, f: Facts, v: Verdict) => [message: string, fix: string]

export const dest = (s: Subject): string => s.target ?? s.env
// "an OpenAI key", "an xAI key", "a Groq key"
export const a = (label: string): string => /^[aeiox]/i.test(label) ? `an ${label}` : `a ${label}`
export const createKey = (s: Subject): string =>
  s.dashboard === undefined ? `Create a new ${s.label} key` : `Create a new ${s.label} key at ${s.dashboard}`
export const fp = (s: Subject): string => s.fingerprint === undefined ? '' : `${s.fingerprint}, `
export const http = (v: Verdict): string => v.httpStatus === undefined ? '' : `HTTP ${v.httpStatus}`
export const seen = (s: Subject, v: Verdict): string => `(${fp(s)}${http(v)})`.replace(', )', ')')
export const at = (f: Facts): string => {
  const more = (f.count ?? 1) - 1
  return `at position ${f.position ?? 0}${more > 0 ? ` (and ${more} more)` : ''}`
}
export const dashboardOf = (s: Subject): string => s.dashboard ?? `the ${s.label} console`
export const paste = (s: Subject): string =>
  `Copy the key again from ${dashboardOf(s)} (use a plain-text editor, not a chat or a PDF) and put it in ${dest(s)}`
export const fileFix = (s: Subject, f: Facts): string =>
  `Point ${s.env}_FILE at the key file itself (e.g. the file inside the mounted secret), ` +
  `or unset it and set ${s.env}; checked path: ${f.path ?? '?'}`
export const suggest = (f: Facts): string => {
  const names = f.suggestions ?? []
  if (names.length === 0) return ''
  return ` Found ${names.join(', ')} in the environment — did you mean ${names.length > 1 ? 'one of them' : 'it'}?`
}
export const verifyLater = (s: Subject): string =>
  'The key was not judged; try again later (a running server rechecks it on its own). ' +
  `If this persists, check the network path from this host to ${s.label}`
/** Lower-cases the first letter only, so that "Fireworks AI" keeps its case inside a sentence. */
export const lower = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1)
/** What a fix points at when the user set no baseUrl: whatever sits between this host and the provider. */
export const between = (s: Subject): string => `any proxy or firewall between this host and ${s.label}`
export const peer = (s: Subject, f: Facts): string => f.origin === undefined ? s.label : `${s.label} (${f.origin})`
