import { createRequire } from 'node:module'
import type { Dispatcher } from 'undici'

type Undici = typeof import('undici')

const load = createRequire(import.meta.url)

/**
 * undici, loaded on first use (require caches it). Importing all of it costs about 100 ms and 10 MiB at
 * start-up, and a server that never touches `keyguard.dispatcher`, a proxy or an injected dispatcher
 * never needs it.
 */
export function undici (): Undici {
  return load('undici') as Undici
}

type Env = Readonly<Record<string, string | undefined>>
type Proxy = { httpProxy?: string, httpsProxy?: string, noProxy?: string }

/** Proxy settings from an environment, by undici's rule: the lower-case variable wins. */
export function proxyEnv (env: Env): Proxy | undefined {
  const pick = (name: string): string | undefined => {
    // Own properties only: a polluted Object.prototype.HTTPS_PROXY must not route the key through it.
    const own = (n: string): string | undefined => Object.hasOwn(env, n) ? env[n] : undefined
    const value = own(name.toLowerCase()) ?? own(name)
    return value === '' ? undefined : value
  }
  const out: Proxy = {}
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
export function createAgent (env: Env): Dispatcher {
  const proxy = proxyEnv(env)
  const { Agent, EnvHttpProxyAgent } = undici()
  return proxy === undefined ? new Agent() : new EnvHttpProxyAgent(proxy)
}

/**
 * The dispatcher probes go through: the application's own (never closed by keyguard), else an agent of
 * keyguard's own for the environment's proxy (destroyed on close), else none: node:http(s) is enough.
 */
export class ProbeTransport {
  readonly #given: Dispatcher | undefined
  readonly #env: Env
  #own: Dispatcher | undefined
  #closed = false

  constructor (given: Dispatcher | undefined, env: Env) {
    this.#given = given
    this.#env = env
  }

  /** The dispatcher for the next probe; `undefined` for node:http(s). */
  get (): Dispatcher | undefined {
    if (this.#given !== undefined) return this.#given
    // undici is loaded only for a proxy; once closed, no agent is made that nothing would destroy.
    if (this.#own !== undefined || this.#closed || proxyEnv(this.#env) === undefined) return this.#own
    this.#own = createAgent(this.#env)
    return this.#own
  }

  /** Destroys keyguard's own agent, if it made one. */
  close (): void {
    this.#closed = true
    this.#own?.destroy().catch(() => {})
    this.#own = undefined
  }
}
