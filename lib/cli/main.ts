#!/usr/bin/env node
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../core/log.js'
import { Guard } from '../core/guard.js'
import { checkBaseUrl, DEFAULTS, resolveOptions } from '../core/options.js'
import type { KeySpec } from '../core/options.js'
import { providers } from '../providers/index.js'
import type { ProviderId } from '../providers/index.js'
import { looksLikeKey } from '../core/redact.js'
import type { CheckResult, Report } from '../core/report.js'
import { nearMisses, providerWords } from '../core/source.js'
import type { Env } from '../core/source.js'
import { CAUSES } from '../core/verdict.js'
import type { Status } from '../core/verdict.js'

/** Where `main` writes and what it knows about the terminal; `process` in the binary, plain objects in tests. */
export interface CliIo {
  stdout: { write: (text: string) => unknown }
  stderr: { write: (text: string) => unknown }
  /** Where keys and colour settings are read. */
  env: Env
  /** Whether stdout is a terminal (colours). */
  stdoutIsTTY: boolean
  /** Whether stderr is a terminal (progress line). */
  stderrIsTTY: boolean
}

/** Exit codes: sysexits' `EX_USAGE` for bad arguments. */
export const EXIT = Object.freeze({ pass: 0, fail: 1, warn: 2, usage: 64 })

const STATUS_EXIT: Readonly<Record<Status, number>> = Object.freeze({ pass: EXIT.pass, warn: EXIT.warn, fail: EXIT.fail })
const KNOWN = Object.keys(providers) as ProviderId[]
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const MAX_TIMEOUT = 600_000
const SYNOPSIS = 'Usage: keyguard check [provider…] [--env NAME] [--base-url URL] [--timeout MS] [--json]'

const HELP = `${SYNOPSIS}

Checks AI-provider API keys as fastify-keyguard does at boot, without a server: offline
inspection, then a no-cost live probe. For CI pre-deploy steps, init containers and HEALTHCHECK.
With no provider named, checks every provider whose variable (or its _FILE twin) is set.

Options:
  --env NAME        read the key from NAME instead of the provider's variable (one provider only)
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

class UsageError extends Error {}

/** Shows a command-line word only when it cannot be a piece of a key (every provider's keys are longer). */
function shown (word: string): string {
  return /^-{0,2}[\w.-]{1,15}$/.test(word) ? `"${word}"` : `(an argument of ${word.length} characters)`
}

interface Parsed {
  help: boolean
  version: boolean
  json: boolean
  words: string[]
  env?: string
  baseUrl?: string
  timeout?: string
}

const VALUE_FLAGS = { '--env': 'env', '--base-url': 'baseUrl', '--timeout': 'timeout' } as const

function parse (argv: readonly string[]): Parsed {
  const parsed: Parsed = { help: false, version: false, json: false, words: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('-') || arg === '-') {
      parsed.words.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    if (Object.hasOwn(VALUE_FLAGS, flag)) {
      const field = VALUE_FLAGS[flag as keyof typeof VALUE_FLAGS]
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      if (value === undefined) throw new UsageError(`${flag} needs a value`)
      if (parsed[field] !== undefined) throw new UsageError(`${flag} is given twice`)
      parsed[field] = value
    } else if (eq === -1 && (arg === '-h' || arg === '--help')) parsed.help = true
    else if (arg === '--version') parsed.version = true
    else if (arg === '--json') parsed.json = true
    else throw new UsageError(`unknown option ${shown(flag)}`)
  }
  return parsed
}

interface Plan {
  ids: ProviderId[]
  keys: Array<ProviderId | KeySpec>
  timeout?: number
}

function plan (parsed: Parsed): Plan {
  const [command, ...ids] = parsed.words
  if (command === undefined) throw new UsageError('missing command: check')
  if (command !== 'check') throw new UsageError(`unknown command ${shown(command)}; the command is check`)
  for (const id of ids) {
    if (!(KNOWN as string[]).includes(id)) throw new UsageError(`unknown provider ${shown(id)}; known providers: ${KNOWN.join(', ')}`)
  }
  if (new Set(ids).size !== ids.length) throw new UsageError('a provider is named twice')
  const out: Plan = { ids: ids as ProviderId[], keys: ids as ProviderId[] }
  if (parsed.env !== undefined || parsed.baseUrl !== undefined) {
    if (ids.length !== 1) throw new UsageError('--env and --base-url apply to one provider: name exactly one')
    const spec: KeySpec = { provider: out.ids[0] as ProviderId }
    if (parsed.env !== undefined) {
      if (looksLikeKey(parsed.env)) {
        throw new UsageError(`--env takes the name of a variable (e.g. ${providers[out.ids[0] as ProviderId].env}), and was given a value that looks like a key; it is not shown. Pass the name: --env MY_KEY_VARIABLE`)
      }
      if (!ENV_NAME.test(parsed.env)) throw new UsageError('--env must be an environment variable name (letters, digits and _, not starting with a digit)')
      spec.env = parsed.env
    }
    if (parsed.baseUrl !== undefined) {
      try {
        spec.baseUrl = checkBaseUrl(parsed.baseUrl, '--base-url')
      } catch (err) {
        throw new UsageError((err as Error).message.replace(/^Invalid fastify-keyguard options: option /, ''))
      }
    }
    out.keys = [spec]
  }
  if (parsed.timeout !== undefined) {
    const timeout = /^\d{1,7}$/.test(parsed.timeout) ? Number(parsed.timeout) : 0
    if (timeout < 1 || timeout > MAX_TIMEOUT) throw new UsageError(`--timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT}`)
    out.timeout = timeout
  }
  return out
}

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

// Fastify's logger interface, doing nothing: the CLI renders the results itself.

/** Colours by the usual conventions: `FORCE_COLOR` wins (`0`/`false` turn them off), then `NO_COLOR`, `TERM=dumb`, a terminal. */
function colours (io: CliIo): boolean {
  const force = io.env.FORCE_COLOR
  if (force !== undefined) return force !== '0' && force !== 'false'
  if ((io.env.NO_COLOR ?? '') !== '' || io.env.TERM === 'dumb') return false
  return io.stdoutIsTTY
}

type Paint = (code: number, text: string) => string

const STATUS_COLOUR: Record<Status, number> = { pass: 32, warn: 33, fail: 31 }

const HEADINGS = ['NAME', 'PROVIDER', 'STATUS', 'CAUSE', 'FINGERPRINT']

function render (report: Report, paint: Paint): string {
  const checks = Object.values(report.checks)
  const rows = checks.map((c) => [c.name, c.provider, c.status, CAUSES[c.cause].summary, c.fingerprint ?? '-'])
  const widths = HEADINGS.map((heading, col) => Math.max(heading.length, ...rows.map((row) => (row[col] as string).length)))
  const pad = (row: string[]): string[] => row.map((cell, col) => col === row.length - 1 ? cell : cell.padEnd(widths[col] as number))
  let out = paint(1, pad(HEADINGS).join('  ')) + '\n'
  checks.forEach((check, index) => {
    const cells = pad(rows[index] as string[])
    cells[2] = paint(STATUS_COLOUR[check.status], check.status) + (cells[2] as string).slice(check.status.length)
    out += cells.join('  ') + '\n'
  })
  for (const check of checks) out += details(check, paint)
  return out
}

function details (check: CheckResult, paint: Paint): string {
  const notes = check.notes ?? []
  if (check.status === 'pass' && notes.length === 0) return ''
  let out = `\n${paint(STATUS_COLOUR[check.status], check.name)}: ${check.message}\n`
  if (check.status !== 'pass') out += `  ${paint(1, 'Fix:')} ${check.fix}\n`
  for (const note of notes) out += `  Note: ${note}\n`
  return out
}

const FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'

/** A progress line on stderr while the probes run; returns the function that clears it. */
function spinner (io: CliIo, ids: readonly string[]): () => void {
  if (!io.stderrIsTTY) return () => {}
  let frame = 0
  const draw = (): void => { io.stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length] as string} checking ${ids.join(', ')}…`) }
  draw()
  const timer = setInterval(draw, 80)
  return () => {
    clearInterval(timer)
    io.stderr.write('\r\x1b[2K')
  }
}

/** The package's version, from the package.json above this file (`lib/` in the source, `dist/lib/` when built). */
function version (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
}

/**
 * `keyguard check [provider…] [--env NAME] [--base-url URL] [--timeout MS] [--json]`: the plugin's
 * boot check (inspection and live probe) without a server. Resolves to the exit code: 0 pass, 1 fail,
 * 2 warnings only, 64 usage.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, stdoutIsTTY: false, stderrIsTTY: false })
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

  if (todo.ids.length === 0) {
    const found = detect(io.env)
    const looked = KNOWN.map((id) => providers[id].env).join(', ')
    if (found.guessed) {
      io.stderr.write(`keyguard: no provider key is set; looked for ${looked} and their _FILE twins. Name a provider (keyguard check fireworks) to check one anyway.\n`)
    }
    if (found.ids.length === 0) {
      if (parsed.json) io.stdout.write(JSON.stringify({ status: 'fail', checks: {} }, null, 2) + '\n')
      return EXIT.fail
    }
    todo.ids = found.ids
    todo.keys = found.ids
  }

  let options: ReturnType<typeof resolveOptions>
  try {
    const probe = { ...(todo.timeout === undefined ? {} : { timeout: todo.timeout }), interval: 0 }
    options = resolveOptions({ keys: todo.keys, probe, health: false, problem: false }, io.env)
  } catch (err) {
    // A provider without a shared endpoint (azure-openai) needs --base-url.
    const message = (err as Error).message.replace(/^Invalid fastify-keyguard options: /, '')
    io.stderr.write(`keyguard: ${message}; pass --base-url\n${SYNOPSIS}\n`)
    return EXIT.usage
  }
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
    const paint: Paint = colours(io) ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text
    io.stdout.write(render(report, paint))
  }
  return STATUS_EXIT[report.status]
}

const self = fileURLToPath(import.meta.url)
// Run when executed (also through npm's bin symlink), not when imported by tests.
/* c8 ignore start: runs only as the executable, which the tests drive as child processes without coverage */
if (process.argv.slice(1, 2).some((script) => existsSync(script) && realpathSync(script) === self)) {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true
  })
}
/* c8 ignore stop */
