import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CliIo } from '../../lib/cli/main.js'

export const root = fileURLToPath(new URL('../../', import.meta.url))
/** The binary as `package.json` names it (`bin.keyguard`), built by `npm run build`. */
export const cliBin = join(root, 'dist', 'cli.js')

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment of a CLI child: nothing of this process's environment (no real key can leak in)
 * but PATH. Children collect no coverage: the built dist/ maps onto lib/*.ts with other ranges than
 * tap's own TypeScript loader, and merging the two corrupts the report. Coverage of lib/cli/main.ts comes
 * from calling `main` in-process.
 */
export function childEnv (extra: Record<string, string> = {}): Record<string, string> {
  // tap injects its coverage loader into every child; this turns it off.
  return { PATH: process.env.PATH ?? '', NO_PROXY: '127.0.0.1,localhost', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...extra }
}

/** Runs a script as a child process (`node [nodeArgs] script args`) with exactly `env`. */
export function runScript (nodeArgs: string[], script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Runs the real binary, `dist/cli.js`, as a child process with only `env` (plus PATH and NO_PROXY). */
export function runCli (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runScript([], cliBin, args, childEnv(env))
}

const mtime = (file: string): number => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0

/**
 * Builds `dist/` (scripts/build.ts, as `npm run build`) unless `dist/cli.js` is newer than every source
 * file. `npm test` builds first, so this only costs time in a lone `tap` run.
 * Returns the build's diagnostics when it emitted despite type errors (those fail `npm run typecheck`).
 */
export async function ensureBuilt (): Promise<string> {
  const sources = [join(root, 'index.ts'), ...readdirSync(join(root, 'lib'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'lib', f))]
  if (mtime(cliBin) > Math.max(...sources.map(mtime))) return ''
  const run = await runScript(['--import', 'tsx'], join(root, 'scripts', 'build.ts'), [], { PATH: process.env.PATH ?? '' })
  if (mtime(cliBin) <= Math.max(...sources.map(mtime))) throw new Error(`npm run build did not produce dist/cli.js:\n${run.stdout}${run.stderr}`)
  return run.code === 0 ? '' : run.stderr
}

/** An in-memory `CliIo` for calling `main` in-process (a terminal is simulated through `isTTY`). */
export function memoryIo (
  env: Record<string, string | undefined>, tty: { stdout?: boolean, stderr?: boolean } = {}
): CliIo & { out: () => string, err: () => string } {
  let out = ''
  let err = ''
  return {
    stdout: { write: (text: string) => { out += text }, isTTY: tty.stdout ?? false },
    stderr: { write: (text: string) => { err += text }, isTTY: tty.stderr ?? false },
    env: { NO_PROXY: '127.0.0.1,localhost', ...env },
    out: () => out,
    err: () => err
  }
}

/** Every 8-character piece of `key` that appears in `text` (there must be none). */
export function keyPieces (text: string, key: string): string[] {
  const found: string[] = []
  for (let i = 0; i + 8 <= key.length; i++) {
    const piece = key.slice(i, i + 8)
    if (text.includes(piece)) found.push(piece)
  }
  return found
}
