import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Test } from 'tap'
import keyguard from '../../index.js'
import type { BootRefusedError, FastifyKeyguardOptions } from '../../index.js'

// The one place tests take their helpers from: a stand-in, an app, and the leak rule.
export { leaks, leaksAny } from './leak.js'
export { startStub, stubFor } from './stub.js'
export type { Mode, Stub, StubOptions } from './stub.js'

/** Log lines captured from a real pino logger at trace level. */
export interface Logs {
  lines: string[]
  /** Parsed JSON lines. */
  records: () => Array<Record<string, unknown>>
  /** Everything logged, as one string, for canary scans. */
  text: () => string
}

export function logs (): { logs: Logs, stream: { write: (line: string) => void } } {
  const lines: string[] = []
  return {
    logs: { lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), text: () => lines.join('') },
    stream: { write: (line: string) => { lines.push(line) } }
  }
}

/** A Fastify app with a trace-level logger captured in memory and keyguard registered. */
export async function appWith (options: FastifyKeyguardOptions, fastify: FastifyServerOptions = {}): Promise<{ app: FastifyInstance, logs: Logs }> {
  const { logs: captured, stream } = logs()
  // A logger object of the caller's (serializers, a level) is merged into the captured one: spread over it, it
  // would log to stdout, and a test sweeping `logs` would sweep nothing.
  const own = fastify.logger
  const logger = own === false ? false : { level: 'trace', stream, ...(typeof own === 'object' ? own : {}) }
  const app = Fastify({ ...fastify, logger })
  await app.register(keyguard, options)
  return { app, logs: captured }
}

/** The app of `appWith`, closed when the test ends, `routes` added, and ready. */
export async function booted (
  t: Test, options: FastifyKeyguardOptions, fastify: FastifyServerOptions = {}, routes: (app: FastifyInstance) => void = () => {}
): Promise<{ app: FastifyInstance, logs: Logs }> {
  const out = await appWith(options, fastify)
  t.teardown(() => out.app.close())
  routes(out.app)
  await out.app.ready()
  return out
}

/** A boot that may be refused: the app (closed when the test ends), its logs, the error and how long ready() took. */
export async function attempt (
  t: Test, options: FastifyKeyguardOptions, fastify: FastifyServerOptions = {}
): Promise<{ app: FastifyInstance, logs: Logs, err: BootRefusedError | undefined, ms: number }> {
  const { app, logs } = await appWith(options, fastify)
  t.teardown(() => app.close())
  const started = performance.now()
  const err = await app.ready().then(() => undefined, (e: BootRefusedError) => e)
  return { app, logs, err, ms: performance.now() - started }
}

/** Polls `test` every 10 ms until it holds or `ms` pass. */
export async function until (test: () => boolean | Promise<boolean>, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await test()) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return test()
}

/** A unique synthetic canary key with the given prefix. */
export function canary (prefix = 'fw_'): string {
  let body = ''
  while (body.length < 40) body += randomBytes(32).toString('base64').replace(/[^A-Za-z0-9]/g, '')
  return prefix + body.slice(0, 40)
}
