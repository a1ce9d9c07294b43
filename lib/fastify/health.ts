import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Guard } from '../core/guard.js'
import type { HealthDetails } from '../core/options.js'
import type { Report } from '../core/report.js'
import { livenessSchema, readinessSchema } from '../core/schemas.js'

type RouteDef = { schema: unknown, method: string, url: string, httpStatus?: string }

/**
 * Fastify's own serializer compiler (fast-json-stringify), for the health routes whatever the application
 * set with `setSerializerCompiler`: a Zod type provider's compiler refuses JSON Schema, and would fail the
 * boot. Loaded when the routes are registered, not on import (it brings fast-json-stringify: about 100 ms);
 * by then Fastify has loaded the same package for its own compiler.
 *
 * Each serializer is built on its first use, not at `ready()`: Fastify asks for one per route, status and
 * method (HEAD included), ten in all, and building them took 10–12 ms of every boot (a third of keyguard's
 * boot overhead with one key), while `/readyz` uses one or two and `/livez` none (its body is text).
 */
async function fastifySerializerCompiler (): Promise<(route: RouteDef) => (body: unknown) => string> {
  const { default: selector } = await import('@fastify/fast-json-stringify-compiler')
  const compile = selector()()
  return (route) => {
    let serialize: ((body: unknown) => string) | undefined
    // Fastify passes httpStatus for every response schema; its type says optional.
    return (body) => (serialize ??= compile(route as Parameters<typeof compile>[0]))(body)
  }
}

/**
 * A health route's schema: its body schema (without `$id`, which is for users' own schema stores) under
 * `application/health+json` for each status it answers; `hide` keeps the route out of @fastify/swagger.
 */
function routeSchema (summary: string, body: object, statuses: number[], hide: boolean): object {
  const { $id, ...schema } = body as { $id?: string }
  const content = { 'application/health+json': { schema } }
  const response = Object.fromEntries(statuses.map((status) => [status, { description: summary, content }]))
  return hide ? { summary, response, hide } : { summary, response }
}

/** A readiness body in the draft-inadarei-api-health-check shape. */
export interface HealthBody {
  status: Report['status']
  checks?: Record<string, Array<{
    componentId: string
    componentType: 'system'
    status: Report['status']
    time: string
    observedValue?: number
    observedUnit?: 'ms'
    output?: string
  }>>
}

const LIVE = JSON.stringify({ status: 'pass' })
const CLOSING = JSON.stringify({ status: 'fail' })
const HEALTH_JSON = 'application/health+json'

/**
 * The readiness body: the overall status, and with `details` each key's status and cause code.
 * Messages, fixes, variable names and fingerprints stay in the logs.
 */
export function readinessBody (report: Report, details: boolean): HealthBody {
  if (!details) return { status: report.status }
  const checks: NonNullable<HealthBody['checks']> = {}
  for (const check of Object.values(report.checks)) {
    const entry: NonNullable<HealthBody['checks']>[string][number] = {
      componentId: check.provider,
      componentType: 'system',
      status: check.status,
      time: check.checkedAt
    }
    if (check.latencyMs !== undefined) {
      entry.observedValue = check.latencyMs
      entry.observedUnit = 'ms'
    }
    if (check.status !== 'pass') entry.output = check.cause
    checks[`${check.name}:apiKey`] = [entry]
  }
  return { status: report.status, checks }
}

/**
 * A readiness body as text, rendered once per change by the fast-json-stringify function Fastify compiled
 * from the route's response schema (it drops a member its schema does not name: the schema names them all).
 */
function serialise (reply: FastifyReply, body: HealthBody, status: number): string {
  return reply.serializeInput(body as unknown as Record<string, unknown>, String(status), HEALTH_JSON) as string
}

function send (reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).header('content-type', HEALTH_JSON).header('cache-control', 'no-store')
    .send(body)
}

/**
 * `/livez` and `/readyz`, with an error handler of their own (a route option: an encapsulated child
 * context cost every boot about 1.5 ms of Fastify's 404 wiring and plugin loading). Readiness answers
 * from the guard's cached state, re-rendered only when a key changes: a hit never causes an upstream
 * request and stays fast while a probe hangs.
 */
export async function healthRoutes (fastify: FastifyInstance, guard: Guard,
  options: { live: string | false, ready: string | false, details: HealthDetails, hide?: boolean }): Promise<void> {
  const serializerCompiler = await fastifySerializerCompiler()
  let version = -1
  let status = 503
  // [anonymous, verbose]: an anonymous caller learns the overall status only, unless details is 'always'.
  let bodies: [string, string] = ['', '']
  const errorHandler = (_err: unknown, _req: unknown, reply: FastifyReply): FastifyReply => send(reply, 500, CLOSING)
  // rateLimit: false exempts the routes from @fastify/rate-limit; keyguardHealth lets an app's auth hook skip them.
  const config = { rateLimit: false, keyguardHealth: true }
  const hide = options.hide === true
  if (options.live !== false) {
    const schema = routeSchema('Liveness: whether the process answers', livenessSchema, [200, 500], hide)
    const live = { config, schema, serializerCompiler, errorHandler }
    fastify.get(options.live, live, (_request, reply) => send(reply, 200, LIVE))
  }
  if (options.ready !== false) {
    const summary = 'Readiness: fail while any guarded key fails (each key\'s status and cause with ?verbose)'
    const schema = routeSchema(summary, readinessSchema, [200, 503, 500], hide)
    fastify.get(options.ready, { config, schema, serializerCompiler, errorHandler }, (request, reply) => {
      if (guard.draining) return send(reply, 503, CLOSING)
      if (version !== guard.version) {
        const report = guard.report()
        version = guard.version
        status = report.status === 'fail' ? 503 : 200
        const render = (details: boolean): string => serialise(reply, readinessBody(report, details), status)
        const verbose = render(options.details !== false)
        bodies = [options.details === 'always' ? verbose : render(false), verbose]
      }
      // `?verbose`, as the Kubernetes API server's /readyz: any value, even none, asks for it.
      const asked = Object.hasOwn(request.query as object, 'verbose')
      return send(reply, status, bodies[asked ? 1 : 0])
    })
  }
}
