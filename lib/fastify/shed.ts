import { types } from 'node:util'
import type { RouteConfig, RouteContext } from './route-config.js'

/*
 * keyguard's request hooks are global (Fastify gives them to every route of the context, however the
 * plugin was registered), and a global hook costs every route a hook runner per request, even where it
 * has nothing to do. A route whose first request shows it needs a hook no longer has it in its list:
 * Fastify reads a route's hook lists from the route's context on each request, and skips a runner
 * where the list is `null`. This file owns those writes; each is fail-closed:
 *
 * - A list is replaced by a new array, never spliced: a runner in progress keeps iterating the old one.
 * - A hook's entry is known by identity: its own `bind` records the bound copy Fastify makes for each
 *   route; a list that does not hold exactly one of them is left as it is.
 * - Whatever is not as expected (no context symbol, another context shape) keeps the hook: slower, never open.
 */

/** A hook whose entries in Fastify's per-route lists are known by identity. */
type Owned = (entry: unknown) => boolean

function owned (hook: object): Owned {
  const copies = new WeakSet<object>()
  const bind = Function.prototype.bind
  Object.defineProperty(hook, 'bind', {
    value: function (this: (...args: unknown[]) => unknown, ...args: [unknown]): unknown {
      const copy = bind.apply(this, args) as object
      copies.add(copy)
      return copy
    }
  })
  return (entry) => entry === hook || copies.has(entry as object)
}

/** Where a taken hook stood in a list, and the list it left (`null` for none). */
type Taken = { index: number, entry: unknown, rest: unknown[] | null }

/** `list` without its one entry of the hook, or `undefined` when it is not a list holding exactly one. */
function take (list: unknown, owns: Owned): Taken | undefined {
  const index = Array.isArray(list) ? list.findIndex(owns) : -1
  if (index === -1 || (list as unknown[]).findLastIndex(owns) !== index) return undefined
  const rest = (list as unknown[]).filter((_, i) => i !== index)
  // A route without hooks has `null` (Fastify's own test before it builds a runner), not [].
  return { index, entry: (list as unknown[])[index], rest: rest.length > 0 ? rest : null }
}

/** `list` (a context's current one) with the hook back at its place. */
function put (list: unknown, { index, entry }: Taken): unknown[] {
  const current = Array.isArray(list) ? list as unknown[] : []
  return [...current.slice(0, index), entry, ...current.slice(index)]
}

/** What `shed` did: took the gate off the route, or kept it (and why, for the tests and the docs). */
export type Shed = 'shed' | 'kept: no route context' | 'kept: the context is not as expected' |
  'kept: the config cannot be watched'

/** Sheds the gate off a request's route context, whose config the gate has just read. */
export type Shedder = (context: RouteContext | undefined, config: RouteConfig) => Shed

/** A route config whose `keyguard` is behind the shedder's accessor: its value, and the routes shed on it. */
type Watch = { value: unknown, off: Map<RouteContext, Taken> }

/**
 * Takes the route gate (a global `onRequest` hook) off a route whose config declares no `keyguard`.
 * The config's `keyguard` becomes an accessor, not configurable (`delete` and `defineProperty` throw):
 * setting it to a value puts the gate back, at its place, on every route shed on that config, before
 * the next request. Only a plain, extensible object is turned so (never a Proxy, a frozen object or one
 * whose prototype could answer `keyguard`), since anything else could change the value unseen.
 */
export function gateShedder (hook: object): Shedder {
  const owns = owned(hook)
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
        if (value === undefined) return
        for (const [context, taken] of w.off) context.onRequest = put(context.onRequest, taken)
        w.off.clear()
      },
      enumerable: own?.enumerable ?? false,
      configurable: false
    })
    watches.set(config, w)
    return w
  }

  const keep = (context: RouteContext, why: Shed): Shed => {
    kept.set(context, why)
    return why
  }

  return (context, config) => {
    if (context === undefined || context === null || typeof context !== 'object') return 'kept: no route context'
    const known = kept.get(context)
    if (known !== undefined) return known
    const taken = take(context.onRequest, owns)
    if (context.config !== config || taken === undefined) return keep(context, 'kept: the context is not as expected')
    const w = watch(config)
    if (w === undefined) return keep(context, 'kept: the config cannot be watched')
    w.off.set(context, taken)
    context.onRequest = taken.rest
    return 'shed'
  }
}

/** The conversion's `onSend`, taken off a route until a request of the route is marked. */
export interface SendShedder {
  /** Takes the hook off the route (once per route; the gate calls it on every route's first request). */
  shed: (context: RouteContext | undefined) => void
  /** A request of the route is marked with an upstream failure: the hook is back before its reply is sent. */
  marked: (context: RouteContext | undefined) => void
}

/**
 * Sheds the conversion's `onSend` (it converts only a reply whose request was marked with an upstream
 * failure) off a route, and puts it back for good the first time a request of the route is marked: by
 * the watching client while the handler runs, or by `onError` before the error handler sends. Fastify
 * reads the route's `onSend` list as the reply is sent, after both. A mark that comes while the reply is
 * already in the route's other `onSend` hooks (one of them calling the upstream) is met too: the hook is
 * also appended to the list that reply's runner iterates (the one this file made, known to no one else).
 */
export function sendShedder (hook: object): SendShedder {
  const owns = owned(hook)
  const seen = new WeakSet<RouteContext>()
  const off = new WeakMap<RouteContext, Taken>()
  return {
    shed (context) {
      if (context === undefined || context === null || seen.has(context)) return
      seen.add(context)
      const taken = take(context.onSend, owns)
      if (taken === undefined) return
      off.set(context, taken)
      context.onSend = taken.rest
    },
    marked (context) {
      const taken = context === undefined || context === null ? undefined : off.get(context)
      if (taken === undefined) return
      off.delete(context as RouteContext)
      ;(context as RouteContext).onSend = put((context as RouteContext).onSend, taken)
      taken.rest?.push(taken.entry)
    }
  }
}
