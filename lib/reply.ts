import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { FST_KEYGUARD_KEY_FAILING, FST_KEYGUARD_OPTIONS } from './errors.js'
import type { Guard } from './guard.js'
import { problemDocument, sendProblem } from './problem.js'

const kGate = Symbol('fastify-keyguard.gate')

type GateHook = ((request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void) & { [kGate]?: true }

/** The key names a route's `config.keyguard` declares, checked against the guarded keys. */
export function gateNames (route: RouteOptions, guard: Guard): string[] | undefined {
  const gate = (route.config as { keyguard?: unknown } | undefined)?.keyguard
  if (gate === undefined) return undefined
  const names = typeof gate === 'string' ? [gate] : gate
  const where = `route ${String(route.method)} ${route.url}: config.keyguard`
  if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) {
    throw new FST_KEYGUARD_OPTIONS(`${where} must be a key name or a non-empty array of key names`)
  }
  for (const name of names) {
    if (!guard.has(name)) throw new FST_KEYGUARD_OPTIONS(`${where} names "${name}", which is not a guarded key; guarded keys: ${guard.names().join(', ')}`)
  }
  return names
}

/**
 * Adds the route gate to a route whose config names keys: while any of them fails, the route answers
 * 503 problem+json with `Retry-After` and its handler does not run. Ungated routes get no hook at all.
 */
export function addGate (route: RouteOptions, guard: Guard): void {
  const names = gateNames(route, guard)
  if (names === undefined) return
  const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
  // exposeHeadRoutes copies the GET route's options, gate included, into the HEAD route.
  if (existing.some((hook) => (hook as GateHook)[kGate] === true)) return
  const gate: GateHook = (request, reply, done) => {
    const blocked = guard.blocking(names)
    if (blocked === undefined) return done()
    const result = guard.result(blocked)
    const doc = problemDocument(new FST_KEYGUARD_KEY_FAILING(blocked), request, { key: blocked, provider: result?.provider })
    request.log.warn({ keyguard: { key: blocked, cause: result?.cause } }, 'fastify-keyguard: gated route refused while its key is failing')
    sendProblem(reply, doc, guard.retryAfter(names))
  }
  gate[kGate] = true
  route.onRequest = [gate, ...existing] as NonNullable<RouteOptions['onRequest']>
}
