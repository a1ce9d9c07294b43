import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { showPath } from './source.js'
import type { Env } from './source.js'

/**
 * Why a `.env` file named on purpose (`dotenv: '.env.production'`, `--env-file`) cannot be used, or
 * `undefined` when it exists. A named file that is missing is an error, not silence: the operator meant it,
 * and without it every key reads as "not set", which points at the wrong fix. `dotenv: true` stays optional.
 */
export function missingEnvFile (path: string): string | undefined {
  const full = resolve(path)
  try {
    statSync(full)
    return undefined
  } catch (err) {
    const why = (err as { code?: unknown }).code === 'ENOENT' ? 'does not exist' : 'cannot be read'
    return `${showPath(path)} ${why} (resolved to ${showPath(full)})`
  }
}

/**
 * The environment each check reads: `env`, overlaid with the `.env` file at `path` (through env-schema,
 * loaded only then) for the variables of the guarded keys and their `_FILE` twins. Read again for every
 * check (checks running together share one read), so that a key rotated in the file heals without a
 * restart.
 */
export function envLoader (env: Env, path: string | false, names: Iterable<string>): () => Promise<Env> {
  if (path === false) return async () => env
  const properties: Record<string, { type: 'string' }> = {}
  for (const name of names) {
    properties[name] = { type: 'string' }
    properties[`${name}_FILE`] = { type: 'string' }
  }
  const schema = { type: 'object', properties }
  const load = async (): Promise<Env> => {
    const { default: envSchema } = await import('env-schema')
    const loaded = envSchema({ schema, dotenv: { path }, env: false, data: [{ ...env }] })
    return { ...env, ...loaded } as Env
  }
  // Checks that ask together share one read: each read parses the file and compiles the schema (about
  // 0.5 ms), and a boot asks once per key at the same moment. A check that asks after a read has
  // finished gets a read of its own, so a rotated key is still seen by the next check.
  let reading: Promise<Env> | undefined
  return () => {
    reading ??= load().finally(() => { reading = undefined })
    return reading
  }
}
