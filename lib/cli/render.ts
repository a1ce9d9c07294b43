import { WriteStream } from 'node:tty'
import { styleText } from 'node:util'
import { CAUSES } from '../core/causes.js'
import type { Status } from '../core/causes.js'
import type { CheckResult, Report } from '../core/report.js'
import type { Env } from '../core/source.js'
import type { CliIo, Output } from './main.js'

/**
 * Whether to colour `stream`: Node's own reading of `FORCE_COLOR`, `NO_COLOR`, `NODE_DISABLE_COLORS` and
 * `TERM` (tty's `hasColors`), on `env`. `util.styleText`'s `stream` option reads `process.env` instead,
 * which is not the environment `main` was given, so the decision is made here and styleText only paints.
 */
export function colours (stream: Output, env: Env): boolean {
  if (env.FORCE_COLOR === undefined && stream.isTTY !== true) return false
  return WriteStream.prototype.hasColors(env)
}

type Style = 'bold' | 'red' | 'green' | 'yellow'
export type Paint = (style: Style, text: string) => string

/** Paints through `util.styleText` when `colours` says so; plain text otherwise. */
export function painter (on: boolean): Paint {
  return on ? (style, text) => styleText(style, text, { validateStream: false }) : (_style, text) => text
}

const STATUS_COLOUR: Readonly<Record<Status, Style>> = Object.freeze({ pass: 'green', warn: 'yellow', fail: 'red' })

const HEADINGS = Object.freeze(['NAME', 'PROVIDER', 'STATUS', 'CAUSE', 'FINGERPRINT'])

export function render (report: Report, paint: Paint): string {
  const checks = Object.values(report.checks)
  const rows = checks.map((c) => [c.name, c.provider, c.status, CAUSES[c.cause].summary, c.fingerprint ?? '-'])
  const width = (col: number): number => Math.max(...[HEADINGS, ...rows].map((row) => (row[col] as string).length))
  const widths = HEADINGS.map((_heading, col) => width(col))
  const last = HEADINGS.length - 1
  const pad = (row: readonly string[]): string[] =>
    row.map((cell, col) => col === last ? cell : cell.padEnd(widths[col] as number))
  let out = paint('bold', pad(HEADINGS).join('  ')) + '\n'
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
  if (check.status !== 'pass') out += `  ${paint('bold', 'Fix:')} ${check.fix}\n`
  for (const note of notes) out += `  Note: ${note}\n`
  return out
}

const FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'

/** A progress line on stderr while the probes run; returns the function that clears it. */
export function spinner (io: CliIo, ids: readonly string[]): () => void {
  if (io.stderr.isTTY !== true) return () => {}
  let frame = 0
  const draw = (): void => {
    io.stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length] as string} checking ${ids.join(', ')}…`)
  }
  draw()
  const timer = setInterval(draw, 80)
  return () => {
    clearInterval(timer)
    io.stderr.write('\r\x1b[2K')
  }
}
