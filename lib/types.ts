import type { Dispatcher } from 'undici'
import type { Report } from './report.js'

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
}

/** `config.keyguard` on a route: the keys it needs. */
export type KeyguardRouteConfig = string | readonly string[]

declare module 'fastify' {
  interface FastifyInstance {
    keyguard: Keyguard
  }
  interface FastifyContextConfig {
    /** Keys this route needs: while any fails, the route answers 503 problem+json without running. */
    keyguard?: KeyguardRouteConfig
  }
}

export type { Dispatcher }
