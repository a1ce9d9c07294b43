import { Agent as HttpAgent } from 'node:http'
import type { ClientHttp2Session } from 'node:http2'
import { Agent as HttpsAgent } from 'node:https'
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import { connect as connectTls, createSecureContext } from 'node:tls'
import type { SecureContext, SecureContextOptions, TLSSocket } from 'node:tls'
import type { Dispatcher } from 'undici'
import { CONCURRENCY } from './schedule.js'

type Undici = typeof import('undici')
type Http2 = typeof import('node:http2')

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

/**
 * How a probe reaches its origin over Node's own HTTP: a stream on the origin's shared HTTP/2 session,
 * or a request through the HTTP/1.1 agent (`undefined`: a fresh, non-keep-alive one).
 */
export type Route = { session: ClientHttp2Session } | { agent: HttpAgent | undefined }

/** What an HTTPS origin is asked to speak, in order: HTTP/2, else HTTP/1.1 (ALPN, RFC 7301). */
const ALPN = Object.freeze(['h2', 'http/1.1'])

/** A connection error by code, as node:net would make it, so the probe classifies it as any other. */
export function netError (message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
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
  readonly #agents = new Map<string, HttpAgent>()
  readonly #tls: SecureContextOptions
  #context: SecureContext | undefined
  /** HTTPS origins → their HTTP/2 session, or `undefined` once ALPN chose HTTP/1.1 (kept in `#h1`). */
  readonly #sessions = new Map<string, Promise<ClientHttp2Session | undefined>>()
  readonly #h1 = new Set<string>()
  /** Every connection and session of keyguard's own not yet closed, destroyed on close. */
  readonly #open = new Set<{ destroy: () => void }>()

  /** `tls`: options of the one TLS context every connection shares (a test's CA). @default the system's */
  constructor (given: Dispatcher | undefined, env: Env, tls: SecureContextOptions = {}) {
    this.#given = given
    this.#env = env
    this.#tls = tls
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
      const options = { keepAlive: true, timeout: IDLE_SOCKET_MS, maxFreeSockets: CONCURRENCY }
      agent = protocol === 'https:'
        ? new HttpsAgent({ ...options, secureContext: this.#secureContext() })
        : new HttpAgent(options)
      this.#agents.set(protocol, agent)
    }
    return agent
  }

  #secureContext (): SecureContext {
    this.#context ??= createSecureContext(this.#tls)
    return this.#context
  }

  /**
   * How the next probe to `url` goes when there is no dispatcher. An HTTPS origin is asked for HTTP/2 on
   * its first probe: every probe to it then shares one connection and one TLS handshake, as streams
   * (20 keys on HTTP/1.1 took 20 connections, 20 handshakes, and about 30 ms more CPU than one key). An
   * origin that answers HTTP/1.1 is remembered and goes through the keep-alive agent from then on. A
   * failed connection is forgotten, so the next attempt connects again. `timeout` bounds the handshake.
   */
  route (url: URL, timeout: number): Promise<Route> {
    if (!this.#mayBeH2(url)) return Promise.resolve({ agent: this.agent(url.protocol) })
    return this.#connect(url, timeout, false)
      .then((session) => session === undefined ? { agent: this.agent('https:') } : { session })
  }

  /**
   * Opens the connection to an HTTPS origin ahead of its first probe (at register, while the app goes on
   * booting): its handshake, a few round trips to a provider, is then over or under way when `ready()`
   * probes. It carries no key, keeps no process alive, and a failure is left to the probe to meet again.
   * Never where probes do not go straight to the origin: through the app's dispatcher or a proxy (whose
   * agent, and undici, are not made for this).
   */
  warm (url: URL, timeout: number): void {
    if (this.#given !== undefined || proxyEnv(this.#env) !== undefined || !this.#mayBeH2(url)) return
    this.#connect(url, timeout, true).catch(() => {})
  }

  /** Whether `url`'s origin may speak HTTP/2: HTTPS, not known to speak HTTP/1.1 only, and not closed. */
  #mayBeH2 (url: URL): boolean {
    return !this.#closed && url.protocol === 'https:' && !this.#h1.has(url.origin)
  }

  /** The origin's HTTP/2 session (`undefined`: HTTP/1.1), negotiated once for every probe that asks. */
  #connect (url: URL, timeout: number, early: boolean): Promise<ClientHttp2Session | undefined> {
    const origin = url.origin
    let pending = this.#sessions.get(origin)
    if (pending === undefined) {
      const forget = (): void => { if (this.#sessions.get(origin) === pending) this.#sessions.delete(origin) }
      pending = this.#negotiate(url, timeout, early).then((session) => {
        if (session === undefined) {
          this.#h1.add(origin)
          forget()
        } else {
          session.once('close', forget).once('goaway', forget)
        }
        return session
      }, (err: unknown) => {
        forget()
        throw err
      })
      this.#sessions.set(origin, pending)
    }
    return pending
  }

  /** One TLS connection offering h2 and http/1.1: an HTTP/2 session on it, or `undefined` for HTTP/1.1. */
  #negotiate (url: URL, timeout: number, early: boolean): Promise<ClientHttp2Session | undefined> {
    return new Promise((resolve, reject) => {
      const host = url.hostname.replace(/^\[|\]$/g, '')
      const socket = connectTls({
        host,
        port: url.port === '' ? 443 : Number(url.port),
        ALPNProtocols: [...ALPN],
        secureContext: this.#secureContext(),
        // SNI takes a host name, never an address (RFC 6066 §3).
        ...(isIP(host) === 0 ? { servername: host } : {})
      })
      this.#open.add(socket)
      // A warm-up holds no process open; a probe that joins it holds the process with its own deadline.
      if (early) socket.unref()
      const timer = setTimeout(() => socket.destroy(netError(`TLS handshake over ${timeout} ms`, 'ETIMEDOUT')), timeout)
      if (early) timer.unref()
      const done = (): void => {
        clearTimeout(timer)
        socket.removeListener('error', onError).removeListener('close', onClose)
      }
      const onError = (err: Error): void => {
        done()
        this.#open.delete(socket)
        reject(err)
      }
      // Destroyed without an error: the transport closed.
      const onClose = (): void => onError(netError('socket closed before the TLS handshake ended', 'ECONNRESET'))
      socket.once('error', onError).once('close', onClose)
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') {
          done()
          this.#open.delete(socket)
          // The agent opens its own connections; this one only asked what the origin speaks.
          socket.on('error', () => {}).destroy()
          resolve(undefined)
          return
        }
        // Streams wait for the origin's SETTINGS (its preface, sent as the handshake ends): opened before
        // them, the streams beyond its concurrency limit are refused (REFUSED_STREAM) instead of queued.
        const session = this.#session(url, socket)
        const lost = (): void => onError(netError('the HTTP/2 session closed before its settings came', 'ECONNRESET'))
        session.once('close', lost).once('remoteSettings', () => {
          done()
          this.#open.delete(socket)
          session.removeListener('close', lost)
          resolve(session)
        })
      })
    })
  }

  #session (url: URL, socket: TLSSocket): ClientHttp2Session {
    const session = (load('node:http2') as Http2).connect(url.origin, { createConnection: () => socket })
    this.#open.add(session)
    // A session error reaches every stream on it, each as its probe's error; the session is then dropped.
    session.on('error', () => {})
    session.once('close', () => this.#open.delete(session))
    // Closed when idle as the agent's sockets are, and never what keeps the process alive.
    session.setTimeout(IDLE_SOCKET_MS, () => session.close())
    session.unref()
    return session
  }

  /** Destroys keyguard's own agents, sessions and connections, if it made any, and every socket they hold. */
  close (): void {
    this.#closed = true
    this.#own?.destroy().catch(() => {})
    this.#own = undefined
    for (const agent of this.#agents.values()) agent.destroy()
    this.#agents.clear()
    for (const open of this.#open) open.destroy()
    this.#open.clear()
    this.#sessions.clear()
  }
}
