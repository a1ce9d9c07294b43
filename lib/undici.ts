import { createRequire } from 'node:module'

type Undici = typeof import('undici')

let loaded: Undici | undefined

/**
 * undici, loaded on first use. Importing all of it costs about 100 ms and 10 MiB at start-up, and a
 * server that never touches `keyguard.dispatcher`, a proxy or an injected dispatcher never needs it.
 */
export function undici (): Undici {
  loaded ??= createRequire(import.meta.url)('undici') as Undici
  return loaded
}
