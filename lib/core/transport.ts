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

/** Proxy settings from an environment, by undici's rule: the lower-case variable wins. */
export function proxyEnv (env: Readonly<Record<string, string | undefined>>): { httpProxy?: string, httpsProxy?: string, noProxy?: string } | undefined {
  const pick = (name: string): string | undefined => {
    // Own properties only: a polluted Object.prototype.HTTPS_PROXY must not route the key through it.
    const own = (n: string): string | undefined => Object.hasOwn(env, n) ? env[n] : undefined
    const value = own(name.toLowerCase()) ?? own(name)
    return value === '' ? undefined : value
  }
  const out: { httpProxy?: string, httpsProxy?: string, noProxy?: string } = {}
  const httpProxy = pick('HTTP_PROXY')
  const httpsProxy = pick('HTTPS_PROXY')
  if (httpProxy === undefined && httpsProxy === undefined) return undefined
  if (httpProxy !== undefined) out.httpProxy = httpProxy
  if (httpsProxy !== undefined) out.httpsProxy = httpsProxy
  const noProxy = pick('NO_PROXY')
  if (noProxy !== undefined) out.noProxy = noProxy
  return out
}

/** An undici agent of keyguard's own: through the environment's proxy when one is set. */
export function createAgent (env: Readonly<Record<string, string | undefined>>): import('undici').Dispatcher {
  const proxy = proxyEnv(env)
  const { Agent, EnvHttpProxyAgent } = undici()
  return proxy === undefined ? new Agent() : new EnvHttpProxyAgent(proxy)
}
