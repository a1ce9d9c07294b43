import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import keyguard from '../../index.js'
import type { FastifyKeyguardOptions } from '../../index.js'

/** A way a user's code registers keyguard and declares its routes; `state` is what the routes record. */
export type Shape<S> = (app: FastifyInstance, options: FastifyKeyguardOptions, state: S) => Promise<void>

/**
 * The orders in which a user's code registers keyguard and declares the routes `routes(state)` makes:
 * awaited or not, routes before or after, in child contexts, in `app.after()`. A test adds its own
 * prefixed shape.
 */
export function registrationShapes<S> (routes: (state: S) => FastifyPluginAsync): Record<string, Shape<S>> {
  return {
    awaited: async (app, options, state) => {
      await app.register(keyguard, options)
      await routes(state)(app, {})
    },
    'not awaited': async (app, options, state) => {
      app.register(keyguard, options)
      await routes(state)(app, {})
    },
    'routes in a child context registered after keyguard': async (app, options, state) => {
      app.register(keyguard, options)
      app.register(routes(state))
    },
    'routes in a child context registered before keyguard': async (app, options, state) => {
      app.register(routes(state))
      app.register(keyguard, options)
    },
    'routes declared before keyguard': async (app, options, state) => {
      await routes(state)(app, {})
      app.register(keyguard, options)
    },
    'routes declared in app.after()': async (app, options, state) => {
      app.register(keyguard, options)
      app.after(() => { routes(state)(app, {}).catch(() => {}) })
    }
  }
}
