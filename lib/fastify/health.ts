import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Guard } from '../core/guard.js'
import type { HealthDetails } from '../core/options.js'
import type { Report } from '../core/report.js'

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

function send (reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/health+json').header('cache-control', 'no-store')
    .send(body)
}

/**
 * `/livez` and `/readyz`, in an encapsulated child so they carry their own error handling. Readiness
 * answers from the guard's cached state, re-rendered only when a key changes: a hit never causes an
 * upstream request and stays fast while a probe hangs.
 */
export function healthRoutes (guard: Guard,
  options: { live: string | false, ready: string | false, details: HealthDetails }) {
  return async function keyguardHealth (child: FastifyInstance): Promise<void> {
    let version = -1
    let status = 503
    // [anonymous, verbose]: an anonymous caller learns the overall status only, unless details is 'always'.
    let bodies: [string, string] = ['', '']
    child.setErrorHandler((_err, _request, reply) => send(reply, 500, CLOSING))
    // rateLimit: false exempts the routes from @fastify/rate-limit; keyguardHealth lets an app's auth hook skip them.
    const config = { rateLimit: false, keyguardHealth: true }
    if (options.live !== false) {
      child.get(options.live, { config }, (_request, reply) => send(reply, 200, LIVE))
    }
    if (options.ready !== false) {
      child.get(options.ready, { config }, (request, reply) => {
        if (guard.draining) return send(reply, 503, CLOSING)
        if (version !== guard.version) {
          const report = guard.report()
          version = guard.version
          status = report.status === 'fail' ? 503 : 200
          const verbose = JSON.stringify(readinessBody(report, options.details !== false))
          bodies = [options.details === 'always' ? verbose : JSON.stringify(readinessBody(report, false)), verbose]
        }
        // `?verbose`, as the Kubernetes API server's /readyz: any value, even none, asks for it.
        const asked = Object.hasOwn(request.query as object, 'verbose')
        return send(reply, status, bodies[asked ? 1 : 0])
      })
    }
  }
}
