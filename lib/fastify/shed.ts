import { types } from 'node:util'
import type { RouteConfig, RouteContext } from './route-config.js'

/** Where a shed gate stood in a route's `onRequest` list, to put it back there. */
type Off = { index: number, entry: unknown }

/** A route config whose `keyguard` is behind the shedder's accessor: its value, and the routes shed on it. */
type Watch = { value: unknown, off: Map<RouteContext, Off> }

/** What `shed` did: took the gate off the route, or kept it (and why, for the tests and the docs). */
export type Shed = 'shed' | 'kept: no route context' | 'kept: the context is not as expected' |
  'kept: the config cannot be watched'

/** Sheds the gate off a request's route context, whose config the gate has just read. */
export type Shedder = (context: RouteContext | undefined, config: RouteConfig) => Shed

/**
 * Takes the route gate (a global `onRequest` hook, so it covers every route however keyguard was
 * registered) off a route whose config declares no `config.keyguard`, on that route's first request,
 * so its later requests run no keyguard code and no hook runner at all (Fastify skips the runner when
 * a route's list is `null`). Fail closed, in three ways:
 *
 * - The route's `onRequest` list is replaced by a new array, never spliced: a runner in progress keeps
 *   iterating the old one. The gate's entry is known by identity: the hook's own `bind` records the
 *   bound copy Fastify makes for each route; a list that does not hold exactly one is left alone.
 * - The config's `keyguard` becomes an accessor, not configurable (`delete` and `defineProperty`
 *   throw): setting it to a value puts the gate back on every route shed on that config before the
 *   next request. Only a plain, extensible object is turned so (never a Proxy, a frozen object or one
 *   whose prototype could answer `keyguard`), since anything else could change the value unseen.
 * - Whatever is not as expected (no context symbol, another context shape) keeps the gate: slower,
 *   never open.
 */
export function gateShedder<F extends object> (hook: F): Shedder {
  const bound = new WeakSet<object>()
  const bind = Function.prototype.bind
  Object.defineProperty(hook, 'bind', {
    value: function (this: F, ...args: unknown[]): unknown {
      const copy = bind.apply(this as unknown as (...a: unknown[]) => unknown, args as [unknown]) as object
      bound.add(copy)
      return copy
    }
  })
  const owns = (entry: unknown): boolean => entry === hook || bound.has(entry as object)
  const watches = new WeakMap<RouteConfig, Watch>()
  const kept = new WeakMap<RouteContext, Shed>()

  function watch (config: RouteConfig): Watch | undefined {
    const known = watches.get(config)
    if (known !== undefined) return known
    const proto: unknown = Object.getPrototypeOf(config)
    const own = Object.getOwnPropertyDescriptor(config, 'keyguard')
    const plain = !types.isProxy(config) && Object.isExtensible(config) &&
      (proto === null || (proto === Object.prototype && !('keyguard' in proto)))
    // No property, or a data property holding undefined (`config.keyguard = undefined`): nothing else.
    if (!plain || (own !== undefined && !(own.configurable === true && 'value' in own && own.value === undefined))) {
      return undefined
    }
    const w: Watch = { value: undefined, off: new Map() }
    Object.defineProperty(config, 'keyguard', {
      get: () => w.value,
      set: (value: unknown) => {
        w.value = value
        if (value !== undefined) restore(w)
      },
      enumerable: own?.enumerable ?? false,
      configurable: false
    })
    watches.set(config, w)
    return w
  }

  function restore (w: Watch): void {
    for (const [context, { index, entry }] of w.off) {
      const list = Array.isArray(context.onRequest) ? context.onRequest as unknown[] : []
      context.onRequest = [...list.slice(0, index), entry, ...list.slice(index)]
    }
    w.off.clear()
  }

  return (context, config) => {
    if (context === undefined || context === null || typeof context !== 'object') return 'kept: no route context'
    const known = kept.get(context)
    if (known !== undefined) return known
    const list: unknown = context.onRequest
    const index = Array.isArray(list) ? list.findIndex(owns) : -1
    if (context.config !== config || index === -1 || (list as unknown[]).findLastIndex(owns) !== index) {
      kept.set(context, 'kept: the context is not as expected')
      return 'kept: the context is not as expected'
    }
    const w = watch(config)
    if (w === undefined) {
      kept.set(context, 'kept: the config cannot be watched')
      return 'kept: the config cannot be watched'
    }
    const entries = list as unknown[]
    w.off.set(context, { index, entry: entries[index] })
    const rest = entries.filter((_, i) => i !== index)
    // A route without hooks has `null` (Fastify's own test before it builds a runner), not [].
    context.onRequest = rest.length > 0 ? rest : null
    return 'shed'
  }
}
