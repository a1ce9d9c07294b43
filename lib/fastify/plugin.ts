import { inspect as utilInspect } from 'node:util'
import type { FastifyPluginAsync } from 'fastify'
import { requireCjs } from '../core/cjs.js'
import { bootRefused, FST_ERR_PLUGIN_VERSION_MISMATCH } from '../core/errors.js'
import { Guard } from '../core/guard.js'
import { openTelemetry } from '../core/telemetry.js'
import { healthRoutes } from './health.js'
import { DEFAULTS, resolveOptions } from '../core/options.js'
import type { FastifyKeyguardOptions } from '../core/options.js'
import { contextHook, conversionHooks, problemErrors, upstreamUnauthorized } from './conversion.js'
import { checkRoute, gateHook } from './gate.js'
import type { Keyguard } from './types.js'
import { Upstream } from '../upstream/watch.js'
import './types.js'

/** Part of Fastify's `pluginTimeout` left free after the probe deadline, so the probe's own error wins. */
const TIMEOUT_MARGIN = Object.freeze({ ratio: 0.1, min: 1_000 })

/**
 * The Fastify major keyguard runs on, checked by the plugin itself rather than by fastify-plugin's
 * `fastify: '5.x'`: Fastify checks that with a semver range parsed afresh on every boot, about 2.5 ms of
 * a one-key boot. Same rule: a release candidate of a later major is let through, as Fastify does.
 */
const FASTIFY_MAJOR = 5

export function checkFastify (version: string): void {
  const major = Number(version.split('.', 1)[0])
  if (major === FASTIFY_MAJOR || (major > FASTIFY_MAJOR && /-rc\b/.test(version))) return
  throw new FST_ERR_PLUGIN_VERSION_MISMATCH('fastify-keyguard', `${FASTIFY_MAJOR}.x`, version)
}

const fastifyKeyguard: FastifyPluginAsync<FastifyKeyguardOptions> = async (fastify, opts) => {
  checkFastify(fastify.version)
  const options = resolveOptions(opts, process.env)
  const telemetry = await openTelemetry(fastify.log)
  const guard = new Guard(options, fastify.log, { telemetry })
  guard.warm()
  const faults = options.problem !== false && options.problem.unavailable
  // The conversion's onSend is put back on a route as a request of it is marked (see shed.ts).
  let marked: ((request: object) => void) | undefined
  const upstream = new Upstream(guard, options.keys, options.env, faults, (request) => { marked?.(request) })
  const errors = problemErrors()
  const conversion = { ...(options.problem === false ? DEFAULTS.problem : options.problem), errors }

  const keyguard: Keyguard = {
    key: (name) => guard.key(name),
    report: () => guard.report(),
    recheck: (name) => guard.recheck(name),
    markShuttingDown: () => guard.drain(),
    get fetch () { return upstream.fetch },
    get dispatcher () { return upstream.dispatcher }
  }
  // The decorator must never print a key, whatever is logged or serialised.
  Object.defineProperties(keyguard, {
    toJSON: { value: () => guard.report(), enumerable: false },
    [utilInspect.custom]: {
      value: () => `Keyguard { keys: [${guard.names().join(', ')}], status: '${guard.status()}' }`,
      enumerable: false
    }
  })
  fastify.decorate('keyguard', keyguard)

  fastify.decorateReply('upstreamUnauthorized', upstreamUnauthorized(guard, conversion))
  // Global hooks, not `onRoute` wrappers: Fastify gives them to every route of this context however the
  // registration was awaited, and to child contexts made before keyguard loaded.
  fastify.addHook('onRoute', (route) => { checkRoute(route, guard) })
  // A route that needs neither the gate nor the conversion's onSend sheds them on its first request.
  const hooks = options.problem === false ? undefined : conversionHooks(guard, upstream, conversion)
  fastify.addHook('onRequest', gateHook(guard, hooks?.shed))
  fastify.addHook('preHandler', contextHook(upstream))
  if (hooks !== undefined) {
    marked = hooks.marked
    fastify.addHook('onError', hooks.onError)
    fastify.addHook('onSend', hooks.onSend)
  }

  fastify.addHook('onReady', async () => {
    const pluginTimeout = fastify.initialConfig.pluginTimeout as number
    const margin = Math.max(TIMEOUT_MARGIN.min, pluginTimeout * TIMEOUT_MARGIN.ratio)
    const deadline = pluginTimeout > 0
      ? performance.now() + Math.max(pluginTimeout - margin, pluginTimeout / 2)
      : Infinity
    const report = await guard.start(deadline)
    const refusing = Object.values(report.checks).filter((check) => check.status === 'fail' && (
      check.cause === 'unreachable' ? options.onUnreachable === 'refuse' : options.onInvalid === 'refuse'
    ))
    if (refusing.length > 0) {
      await guard.close()
      // Each failing key was logged once, at error, as it got its verdict: the error is not logged again.
      throw bootRefused(refusing)
    }
  })
  // Fastify lets requests in flight finish before onClose: one waiting on a hanging upstream through
  // keyguard's client would hold close() for undici's timeouts (minutes). It gets one probe timeout.
  const grace = options.probe === false ? DEFAULTS.probe.timeout : options.probe.timeout
  let cut: NodeJS.Timeout | undefined
  fastify.addHook('preClose', async () => {
    guard.drain()
    cut = setTimeout(() => upstream.close(), grace)
  })
  fastify.addHook('onClose', async () => {
    clearTimeout(cut)
    await guard.close()
    upstream.close()
  })

  if (options.health !== false) await healthRoutes(fastify, guard, options.health)
}

/** The plugin. Its gate and watch cover every route of the context it is registered in, whatever the order. */
const fp = requireCjs('fastify-plugin') as typeof import('fastify-plugin').default
export const plugin = fp(fastifyKeyguard, { name: 'fastify-keyguard' })
