import { plugin } from './lib/plugin.js'

export {
  FST_KEYGUARD_BOOT_REFUSED,
  FST_KEYGUARD_KEY_FAILING,
  FST_KEYGUARD_KEY_UNAVAILABLE,
  FST_KEYGUARD_OPTIONS,
  FST_KEYGUARD_UPSTREAM_UNAUTHORIZED,
  FST_KEYGUARD_UPSTREAM_UNAVAILABLE,
  PROBLEM_TYPES
} from './lib/errors.js'
export type { BootRefusedError } from './lib/errors.js'
export { DEFAULTS } from './lib/options.js'
export type { FastifyKeyguardOptions, HealthOptions, KeySpec, ProbeOptions, ProblemOptions } from './lib/options.js'
export { providers } from './lib/providers/index.js'
export type { ProbeAnswer, ProbeRefinement, ProviderId, ProviderSpec } from './lib/providers/index.js'
export type { Change, CheckResult, Report } from './lib/report.js'
export type { Keyguard, KeyguardRouteConfig } from './lib/types.js'
export type { Cause, Status } from './lib/verdict.js'
export { fingerprint } from './lib/redact.js'

/**
 * fastify-keyguard: proves the upstream API keys a server depends on work, at boot and while it runs.
 *
 * @example
 * import Fastify from 'fastify'
 * import keyguard from 'fastify-keyguard'
 *
 * const app = Fastify({ logger: true })
 * await app.register(keyguard, { keys: ['fireworks'] })
 * await app.listen({ port: 3000 })
 */
export const fastifyKeyguard = plugin
export default plugin
