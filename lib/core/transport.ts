import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { createRequire } from 'node:module'
import { createSecureContext } from 'node:tls'
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
 * How long an idle probe connection is kept: long enough for the probes of one burst to reuse it (keys
 * beyond the boot concurrency, retries, a rotation's second probe, `recheck()` of every key), shorter than
 * the usual server keep-alive (Node's 5 s), so a probe never writes into a socket the server is closing.
 */
export const IDLE_SOCKET_MS = 2_000

/** Keys probed at once at boot, hence the most connections an origin needs; mirrors schedule.ts. */
const MAX_FREE_SOCKETS = 32

/**
 * The dispatcher probes go through: the application's own (never closed by keyguard), else an agent of
 * keyguard's own for the environment's proxy (destroyed on close), else none: node:http(s) is enough.
 */
export class ProbeTransport {
  readonly #given: Dispatcher | undefined
  readonly #env: Env
  #own: Dispatcher | undefined
  #closed = false
  readonly #agents = new Map<string, HttpAgent>()

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

  /**
   * The keep-alive node:http(s) agent of a probe URL's protocol, made on first use. One per protocol
   * (an agent pools per origin), so keys on one origin share connections and TLS sessions, and every
   * connection shares one TLS context: `agent: false` made a new agent, a new connection and a new TLS
   * context for each probe, 20 of each for 20 keys on one origin. `undefined` once closed.
   */
  agent (protocol: string): HttpAgent | undefined {
    if (this.#closed) return undefined
    let agent = this.#agents.get(protocol)
    if (agent === undefined) {
      const options = { keepAlive: true, timeout: IDLE_SOCKET_MS, maxFreeSockets: MAX_FREE_SOCKETS }
      agent = protocol === 'https:'
        ? new HttpsAgent({ ...options, secureContext: createSecureContext() })
        : new HttpAgent(options)
      this.#agents.set(protocol, agent)
    }
    return agent
  }

  /** Destroys keyguard's own agents, if it made any, and every socket they hold. */
  close (): void {
    this.#closed = true
    this.#own?.destroy().catch(() => {})
    this.#own = undefined
    for (const agent of this.#agents.values()) agent.destroy()
    this.#agents.clear()
  }
}
