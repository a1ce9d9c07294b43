import type { Dispatcher } from 'undici'
import type { Report } from '../core/report.js'

/** The `fastify.keyguard` decorator. */
export interface Keyguard {
  /**
   * The clean current key (whitespace and line breaks removed). Throws `FST_KEYGUARD_KEY_UNAVAILABLE`
   * when it is missing or malformed. The name may be left out when one key is guarded.
   * @example new OpenAI({ apiKey: app.keyguard.key('openai') })
   */
  key: (name?: string) => string
  /** Every key's state and the aggregate status. Holds no secret. */
  report: () => Report
  /** Re-reads and re-probes now (singleflight); resolves to the new report. */
  recheck: (name?: string) => Promise<Report>
  /**
   * Readiness answers 503 from now on, while everything else keeps serving: call it on SIGTERM, wait
   * about one readiness period so the orchestrator stops routing here, then `close()`.
   * Fastify's `preClose` does the same on its own.
   * @example process.once('SIGTERM', () => { app.keyguard.markShuttingDown(); setTimeout(() => app.close(), 5000) })
   */
  markShuttingDown: () => void
  /**
   * The global `fetch`, sending through `dispatcher`: hand it to fetch-based SDKs so keyguard sees an
   * upstream 401 as it happens (the reply becomes a 502 problem and readiness is rechecked).
   * @example new OpenAI({ apiKey: app.keyguard.key('openai'), fetch: app.keyguard.fetch })
   */
  readonly fetch: typeof fetch
  /**
   * An undici `Dispatcher` of keyguard's own (through `HTTPS_PROXY`/`HTTP_PROXY` from the `env` option
   * when set) that watches answers from the guarded keys' origins; for `request()`,
   * `@fastify/reply-from` (`undici: app.keyguard.dispatcher`) and the like. Destroyed on close.
   */
  readonly dispatcher: Dispatcher
}

/** `config.keyguard` on a route: the keys it needs. */
export type KeyguardRouteConfig = string | readonly string[]

declare module 'fastify' {
  interface FastifyInstance {
    keyguard: Keyguard
  }
  interface FastifyReply {
    /**
     * Answers with the upstream-credentials problem (502 by default, `application/problem+json`) and
     * has keyguard recheck the key. The name may be left out when one key is guarded.
     */
    upstreamUnauthorized: (name?: string) => FastifyReply
  }
  interface FastifyContextConfig {
    /** Keys this route needs: while any fails, the route answers 503 problem+json without running. */
    keyguard?: KeyguardRouteConfig
    /** Set by keyguard on its own health routes, so an application's auth hook can skip them. */
    keyguardHealth?: boolean
  }
}

export type { Dispatcher }
