import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import keyguard from '../../index.js'
import type { FastifyKeyguardOptions } from '../../index.js'

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
  const app = Fastify({ logger: { level: 'trace', stream }, ...fastify })
  await app.register(keyguard, options)
  return { app, logs: captured }
}

/** Every 8-character piece of `secret` (the canary rule: none may appear anywhere). */
export function pieces (secret: string, size = 8): string[] {
  const out: string[] = []
  for (let i = 0; i + size <= secret.length; i++) out.push(secret.slice(i, i + size))
  return out
}

/** The pieces of `secret` found in `text` (empty when nothing leaked). */
export function leaks (text: string, secret: string): string[] {
  return pieces(secret).filter((piece) => text.includes(piece))
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
