import { plugin } from './lib/fastify/plugin.js'

export {
  FST_KEYGUARD_BOOT_REFUSED,
  FST_KEYGUARD_KEY_FAILING,
  FST_KEYGUARD_KEY_UNAVAILABLE,
  FST_KEYGUARD_OPTIONS,
  FST_KEYGUARD_UPSTREAM_UNAUTHORIZED,
  FST_KEYGUARD_UPSTREAM_UNAVAILABLE,
  PROBLEM_TYPES
} from './lib/core/errors.js'
export type { BootRefusedError } from './lib/core/errors.js'
export { DEFAULTS } from './lib/core/options.js'
export type {
  FastifyKeyguardOptions, FleetOptions, HealthOptions, KeySpec, ProbeOptions, ProblemOptions
} from './lib/core/options.js'
export type { FleetClient } from './lib/core/option-fleet.js'
export { providers } from './lib/providers/index.js'
export type { ProbeAnswer, ProbeRefinement, ProviderId, ProviderSpec } from './lib/providers/index.js'
export type { Change, CheckResult, Report } from './lib/core/report.js'
export type { Keyguard, KeyguardRouteConfig } from './lib/fastify/types.js'
export type { Cause, Status } from './lib/core/causes.js'
export { fingerprint } from './lib/core/redact.js'
export { schemas } from './lib/core/schemas.js'

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
