import type { FastifyRequest } from 'fastify'

/**
 * A request's route config without `request.routeOptions`: that getter builds a fresh object of twelve
 * fields (and asks the router about version constraints) on every read, which the gate did on every
 * request of every route. Fastify keeps the route's context, whose `config` is the object the getter
 * hands out, on the request under its `fastify.context` symbol; the symbol is found once, by its
 * description, on the first request (any copy of Fastify has its own symbol, so it is never imported).
 * A Fastify without it falls back to `routeOptions`, which stays correct, only slower.
 */
export function routeConfigReader (): (request: FastifyRequest) => { keyguard?: unknown } {
  let symbol: symbol | null | undefined
  const slow = (request: FastifyRequest): { keyguard?: unknown } =>
    (request.routeOptions.config as { keyguard?: unknown } | undefined) ?? {}
  return (request) => {
    if (symbol === undefined) {
      symbol = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null
    }
    if (symbol === null) return slow(request)
    const context = (request as unknown as Record<symbol, { config?: { keyguard?: unknown } } | undefined>)[symbol]
    // The same object routeOptions.config is (a test pins it); anything else takes the slow path.
    return context?.config ?? slow(request)
  }
}
