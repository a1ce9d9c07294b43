import type { FastifyRequest } from 'fastify'

/** A route's config, as keyguard reads it. */
export type RouteConfig = { keyguard?: unknown }

/**
 * The fields of Fastify's per-route context that keyguard reads (`config`) or may replace (a hook list:
 * see shed.ts). Anything here is Fastify's internal shape, so every use checks it before trusting it.
 */
export type RouteContext = { config?: RouteConfig } & Record<string, unknown>

/**
 * The request's route context: Fastify keeps it on the request under its `fastify.context` symbol; the
 * symbol is found once, by its description, on the first request (any copy of Fastify has its own symbol,
 * so it is never imported). `undefined` on a Fastify without it.
 */
export function routeContextReader (): (request: FastifyRequest) => RouteContext | undefined {
  let symbol: symbol | null | undefined
  return (request) => {
    if (symbol === undefined) {
      symbol = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null
    }
    if (symbol === null) return undefined
    return (request as unknown as Record<symbol, RouteContext | undefined>)[symbol]
  }
}

/**
 * A request's route config without `request.routeOptions`: that getter builds a fresh object of twelve
 * fields (and asks the router about version constraints) on every read, which the gate did on every
 * request of every route. The route's context holds the object the getter hands out as `config`.
 * A Fastify without the context symbol falls back to `routeOptions`, which stays correct, only slower.
 */
export function routeConfigReader (contextOf = routeContextReader()): (request: FastifyRequest) => RouteConfig {
  const slow = (request: FastifyRequest): RouteConfig =>
    (request.routeOptions.config as RouteConfig | undefined) ?? {}
  // The same object routeOptions.config is (a test pins it); anything else takes the slow path.
  return (request) => contextOf(request)?.config ?? slow(request)
}
