#!/usr/bin/env node
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Status } from '../core/causes.js'
import { envLoader, missingEnvFile } from '../core/dotenv.js'
import { silentLogger } from '../core/log.js'
import { Guard } from '../core/guard.js'
import { DEFAULTS, KNOWN, resolveOptions } from '../core/options.js'
import { providers } from '../providers/index.js'
import type { ProviderId } from '../providers/index.js'
import type { Report } from '../core/report.js'
import { nearMisses, providerWords } from '../core/source.js'
import type { Env } from '../core/source.js'
import { parse, plan } from './args.js'
import type { Parsed, Plan, UsageError } from './args.js'
import { colours, painter, render, spinner } from './render.js'

/** A stream `main` writes to: `process.stdout`/`stderr` in the binary, an in-memory object in tests. */
export interface Output {
  write: (text: string) => unknown
  /** Whether it is a terminal (colours on stdout, the progress line on stderr). */
  isTTY?: boolean
}

/** Where `main` writes and what it reads; `process` in the binary, plain objects in tests. */
export interface CliIo {
  stdout: Output
  stderr: Output
  /** Where keys and colour settings (`FORCE_COLOR`, `NO_COLOR`, `TERM`) are read. */
  env: Env
}

/** Exit codes: sysexits' `EX_USAGE` for bad arguments. */
export const EXIT = Object.freeze({ pass: 0, fail: 1, warn: 2, usage: 64 })

const STATUS_EXIT: Readonly<Record<Status, number>> = Object.freeze({
  pass: EXIT.pass, warn: EXIT.warn, fail: EXIT.fail
})
const SYNOPSIS = 'Usage: keyguard check [provider…] [--env NAME] [--env-file PATH] [--base-url URL] [--timeout MS] ' +
  '[--json]'

const HELP = `${SYNOPSIS}

Checks AI-provider API keys as fastify-keyguard does at boot, without a server: offline
inspection, then a no-cost live probe. For CI pre-deploy steps, init containers and HEALTHCHECK.
With no provider named, checks every provider whose variable (or its _FILE twin) is set.

Options:
  --env NAME        read the key from NAME instead of the provider's variable (one provider only)
  --env-file PATH   also read variables from the .env file PATH, as the plugin's dotenv option does
                    (the environment wins); a missing file is a usage error
  --base-url URL    send the probe to URL instead of the provider's API (one provider only)
  --timeout MS      deadline of one probe attempt, in milliseconds (default ${DEFAULTS.probe.timeout})
  --json            print the report as one JSON object on stdout
  -h, --help        print this help
  --version         print the version

Providers: ${KNOWN.map((id) => `${id} (${providers[id].env})`).join(', ')}

Exit codes: 0 every key passes; 1 a key fails (missing, malformed, rejected, forbidden);
2 only warnings (rate-limited, out of quota, could not be verified); 64 usage error.
Output never holds a key, only fingerprints such as fw_…a1b2.
`

const isSet = (env: Env, name: string): boolean => (env[name] ?? '') !== ''

/**
 * Providers to check when none is named: those whose variable or `_FILE` twin is set. When none is,
 * those with a near-miss variable (`FIREWORKS_KEY`), so the library's "did you mean" reaches the operator.
 */
function detect (env: Env): { ids: ProviderId[], guessed: boolean } {
  const set = KNOWN.filter((id) => isSet(env, providers[id].env) || isSet(env, `${providers[id].env}_FILE`))
  if (set.length > 0) return { ids: set, guessed: false }
  const near = KNOWN.filter((id) => nearMisses(providers[id].env, providerWords(id, providers[id].env), env).length > 0)
  return { ids: near, guessed: true }
}

/** The package's version, from the package.json above this file (`lib/cli/` in the source, `dist/` when built). */
function version (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
}

/**
 * The environment the check reads: `io.env`, overlaid with `--env-file` through the plugin's own `.env` reader
 * (for every provider's variable, its `_FILE` twin and `--env`). `undefined` after a usage error was written.
 */
async function withEnvFile (io: CliIo, parsed: Parsed): Promise<Env | undefined> {
  const path = parsed['env-file']
  if (path === undefined) return io.env
  const missing = missingEnvFile(path)
  const names = [...KNOWN.map((id) => providers[id].env), ...parsed.env === undefined ? [] : [parsed.env]]
  try {
    if (missing === undefined) return await envLoader(io.env, path, names)()
  } catch (err) {
    // env-schema reads the file with fs, whose errors carry a code (EISDIR, EACCES).
    io.stderr.write(`keyguard: --env-file: ${path} cannot be read (${String((err as { code?: unknown }).code)})\n`)
    return undefined
  }
  io.stderr.write(`keyguard: --env-file: ${missing}. Fix: correct the path or create the file\n${SYNOPSIS}\n`)
  return undefined
}

/** Providers without a shared endpoint (Azure OpenAI) need `--base-url`; their catalogue entry says what it is. */
function needsBaseUrl (todo: Plan): string | undefined {
  if (todo.keys.some((key) => typeof key === 'object' && key.baseUrl !== undefined)) return undefined
  const id = todo.ids.find((id) => typeof providers[id].requiresBaseUrl === 'string')
  return id === undefined ? undefined : `${id} needs --base-url: ${providers[id].requiresBaseUrl as string}`
}

/**
 * `keyguard check [provider…] [--env NAME] [--base-url URL] [--timeout MS] [--json]`: the plugin's
 * boot check (inspection and live probe) without a server. Resolves to the exit code: 0 pass, 1 fail,
 * 2 warnings only, 64 usage.
 *
 * @example
 * const io = { stdout: process.stdout, stderr: process.stderr, env: process.env }
 * process.exitCode = await main(process.argv.slice(2), io)
 */
export async function main (argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: Parsed
  let todo: Plan | undefined
  try {
    parsed = parse(argv)
    if (!parsed.help && !parsed.version) todo = plan(parsed)
  } catch (err) {
    io.stderr.write(`keyguard: ${(err as UsageError).message}\n${SYNOPSIS}\nRun keyguard --help for details.\n`)
    return EXIT.usage
  }
  if (todo === undefined) {
    io.stdout.write(parsed.help ? HELP : version() + '\n')
    return EXIT.pass
  }
  const env = await withEnvFile(io, parsed)
  if (env === undefined) return EXIT.usage

  if (todo.ids.length === 0) {
    const found = detect(env)
    const looked = KNOWN.map((id) => providers[id].env).join(', ')
    if (found.guessed) {
      io.stderr.write(`keyguard: no provider key is set; looked for ${looked} and their _FILE twins. ` +
        'Name a provider (keyguard check fireworks) to check one anyway.\n')
    }
    if (found.ids.length === 0) {
      if (parsed.json) io.stdout.write(JSON.stringify({ status: 'fail', checks: {} }, null, 2) + '\n')
      return EXIT.fail
    }
    todo.ids = found.ids
    todo.keys = found.ids
  }
  const missing = needsBaseUrl(todo)
  if (missing !== undefined) {
    io.stderr.write(`keyguard: ${missing}\n${SYNOPSIS}\n`)
    return EXIT.usage
  }

  const probe = { ...(todo.timeout === undefined ? {} : { timeout: todo.timeout }), interval: 0 }
  // Every value was checked above, so the options resolve; a throw here would be a bug, and is not hidden.
  const options = resolveOptions({ keys: todo.keys, probe, health: false, problem: false }, env)
  const guard = new Guard(options, silentLogger)
  const stop = spinner(io, todo.ids)
  let report: Report
  try {
    report = await guard.start(Infinity)
  } finally {
    stop()
    guard.close()
  }

  if (parsed.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n')
  else {
    io.stdout.write(render(report, painter(colours(io.stdout, io.env))))
  }
  return STATUS_EXIT[report.status]
}

const self = fileURLToPath(import.meta.url)
// Run when executed (also through npm's bin symlink), not when imported by tests.
/* c8 ignore start: runs only as the executable, which the tests drive as child processes without coverage */
if (process.argv.slice(1, 2).some((script) => existsSync(script) && realpathSync(script) === self)) {
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env }
  process.exitCode = await main(process.argv.slice(2), io)
}
/* c8 ignore stop */
