import type { Env } from './source.js'

/**
 * The environment each check reads: `env`, overlaid with the `.env` file at `path` (through env-schema,
 * loaded only then) for the variables of the guarded keys and their `_FILE` twins. Read again on every
 * check, so that a key rotated in the file heals without a restart.
 */
export function envLoader (env: Env, path: string | false, names: Iterable<string>): () => Promise<Env> {
  if (path === false) return async () => env
  const properties: Record<string, { type: 'string' }> = {}
  for (const name of names) {
    properties[name] = { type: 'string' }
    properties[`${name}_FILE`] = { type: 'string' }
  }
  const schema = { type: 'object', properties }
  return async () => {
    const { default: envSchema } = await import('env-schema')
    const loaded = envSchema({ schema, dotenv: { path }, env: false, data: [{ ...env }] })
    return { ...env, ...loaded } as Env
  }
}
