import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify'
import { FST_KEYGUARD_KEY_FAILING, FST_KEYGUARD_OPTIONS } from '../core/errors.js'
import type { Guard } from '../core/guard.js'
import { retryAfterValue } from '../core/retry-after.js'
import { problemDocument, sendProblem } from './problem.js'
import { routeConfigReader, routeContextReader } from './route-config.js'
import type { RouteContext } from './route-config.js'
import { gateShedder } from './shed.js'

/** What the gate needs of the guard: no more. */
export type GateView = Pick<Guard, 'has' | 'names' | 'blocking' | 'result' | 'nextCheck' | 'telemetry'>

/** A route's `config.keyguard`, parsed once per route: the key names, or why keyguard cannot enforce it. */
type Gate = readonly string[] | { invalid: string }

/**
 * The key names a route's `config.keyguard` declares (`undefined` when it declares none), or why they
 * cannot be enforced. An unknown name is never repeated back: a key pasted where its name belongs is a
 * valid-looking name, and this message is logged and thrown.
 */
export function parseGate (gate: unknown, guard: GateView): Gate | undefined {
  if (gate === undefined) return undefined
  const names: unknown = typeof gate === 'string' ? [gate] : gate
  if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) {
    return { invalid: 'must be a key name or a non-empty array of key names' }
  }
  if (!names.every((name: string) => guard.has(name))) {
    return {
      invalid: 'names a key that is not guarded (the name is not repeated here: it may be a key pasted by mistake); ' +
        `guarded keys: ${guard.names().join(', ')}`
    }
  }
  return names as readonly string[]
}

/**
 * Checks a route's `config.keyguard` as the route is declared, so a typo fails `ready()` (or the
 * `route()` call itself) instead of a request. Routes declared before keyguard has loaded (an
 * un-awaited `register`) are not seen here; the gate hook still enforces them, and fails closed.
 */
export function checkRoute (route: RouteOptions, guard: GateView): void {
  const gate = parseGate((route.config as { keyguard?: unknown } | undefined)?.keyguard, guard)
  if (gate !== undefined && 'invalid' in gate) {
    throw new FST_KEYGUARD_OPTIONS(`route ${String(route.method)} ${route.url}: config.keyguard ${gate.invalid}`)
  }
}

/**
 * The route gate, one global `onRequest` hook: Fastify hands a plugin's global hooks to every route of
 * its context, whenever the route was declared (before or after keyguard loaded, in child contexts
 * too), where an `onRoute` hook sees only the routes declared after it. While any key a route names is
 * failing, the route answers 503 problem+json with `Retry-After` and its handler and hooks do not run.
 * A `config.keyguard` that cannot be enforced refuses every request (fail closed) and is logged once.
 * A route without `config.keyguard` has the gate taken off on its first request (shed.ts), and put back
 * as soon as its config is given one; `shedAlso` is told of every route, gated or not, to take other hooks
 * off it (the conversion's `onSend`, put back when a request of the route is marked).
 */
export function gateHook (
  guard: GateView, shedAlso?: (context: RouteContext | undefined) => void
): onRequestHookHandler {
  // Per route config, with the value it was parsed from: a config.keyguard changed at runtime is parsed again.
  const parsed = new WeakMap<object, { from: unknown, gate: Gate }>()
  const contextOf = routeContextReader()
  const configOf = routeConfigReader(contextOf)
  const hook: onRequestHookHandler = function keyguardGate (request, reply, done) {
    const config = configOf(request)
    const context = contextOf(request)
    if (config.keyguard === undefined) {
      if (shed(context, config) === 'shed') shedAlso?.(context)
      return done()
    }
    // A gated route keeps the gate; the other hooks go (`shedAlso` looks at a route once).
    shedAlso?.(context)
    const cached = parsed.get(config)
    let gate = cached?.gate
    if (gate === undefined || cached?.from !== config.keyguard) {
      gate = parseGate(config.keyguard, guard) as Gate
      parsed.set(config, { from: config.keyguard, gate })
      if ('invalid' in gate) {
        request.log.error({ keyguard: { route: `${request.method} ${String(request.routeOptions.url)}` } },
          `fastify-keyguard: config.keyguard ${gate.invalid}; the route refuses every request until it is fixed`)
      }
    }
    if ('invalid' in gate) return refuse(request, reply, undefined, [])
    const blocked = guard.blocking(gate)
    if (blocked === undefined) return done()
    refuse(request, reply, blocked, gate)
  }
  const shed = gateShedder(hook)
  return hook

  function refuse (request: FastifyRequest, reply: FastifyReply, blocked: string | undefined,
    names: readonly string[]): void {
    const result = blocked === undefined ? undefined : guard.result(blocked)
    const err = new FST_KEYGUARD_KEY_FAILING(blocked ?? 'a key this route needs')
    const doc = problemDocument(err, request, { key: blocked, provider: result?.provider })
    request.log.warn({ keyguard: { key: blocked, cause: result?.cause } },
      'fastify-keyguard: gated route refused while its key is failing')
    guard.telemetry.refused(blocked, String(request.routeOptions.url))
    sendProblem(reply, doc, retryAfterValue(guard.nextCheck(names)))
  }
}
