import { constants } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { escapeText, looksLikeKey } from './redact.js'
import type { Facts, NoteCode, Verdict } from './causes.js'

/** Environment-like object keys are read from. */
export type Env = Readonly<Record<string, string | undefined>>

/** Largest `_FILE` read; an API key file holds one key. */
export const MAX_KEY_FILE = 16 * 1024

/** Where a key came from and what it holds, before inspection. */
export interface Reading {
  /** The raw value, when one was found. Never logged. */
  value?: string
  source: 'value' | 'env' | 'file' | 'none'
  /** Where the value was read, for messages: a variable name, `X_FILE (path)`, or the `value` option. */
  where: string
  /** Value-free note codes for the operator (see `NOTES` in verdict.ts). */
  notes: NoteCode[]
  /** Set when reading itself failed (`missing` cause). */
  verdict?: Verdict
}

/** What to read: an explicit value, or a variable and its `_FILE` twin. */
export interface SourceSpec {
  name: string
  env: string
  value?: string | undefined
  /** Words that, in another variable's name, suggest it was meant to hold this key. */
  words: readonly string[]
}

const FILE_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  ENOENT: 'file-missing',
  ENOTDIR: 'file-missing',
  ELOOP: 'file-missing',
  EACCES: 'file-denied',
  EPERM: 'file-denied',
  EISDIR: 'file-directory'
})

function fileFailure (code: unknown, path: string): Verdict {
  // Errors from node:fs always carry a string code; the fallback only guards against a future surprise.
  /* c8 ignore next */
  const errno = typeof code === 'string' ? code : 'error'
  const reason = Object.hasOwn(FILE_ERRORS, errno) ? FILE_ERRORS[errno] as string : 'file-error'
  return { cause: 'missing', reason, facts: { path: showPath(path), errno } }
}

const missing = (reason: string, facts: Facts): { verdict: Verdict } =>
  ({ verdict: { cause: 'missing', reason, facts } })
const tooLarge = (path: string, size: number): { verdict: Verdict } =>
  missing('file-too-large', { path: showPath(path), size, max: MAX_KEY_FILE })

/**
 * Reads a key file without ever hanging or exhausting memory: `stat` first (following the symlink, as
 * a Kubernetes `..data` swap needs), regular files only (a FIFO would block `open` forever, `/dev/zero`
 * would never end), a size cap, and a bounded read from the opened handle.
 */
export async function readKeyFile (file: string): Promise<{ text: string } | { verdict: Verdict }> {
  const path = resolve(file)
  try {
    const before = await stat(path)
    if (before.isDirectory()) return { verdict: fileFailure('EISDIR', path) }
    if (!before.isFile()) return missing('file-special', { path: showPath(path) })
    if (before.size > MAX_KEY_FILE) return tooLarge(path, before.size)
    // O_NONBLOCK: should the file have become a FIFO since the stat, open returns at once instead of waiting
    // for a writer.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      const buffer = Buffer.alloc(MAX_KEY_FILE + 1)
      // One read may return less than asked (procfs, FUSE, network file systems): read until the end or the cap.
      let bytesRead = 0
      for (let n = -1; n !== 0 && bytesRead < buffer.length;) {
        n = (await handle.read(buffer, bytesRead, buffer.length - bytesRead, bytesRead)).bytesRead
        bytesRead += n
      }
      if (bytesRead > MAX_KEY_FILE) return tooLarge(path, bytesRead)
      return { text: buffer.toString('utf8', 0, bytesRead) }
    } finally {
      await handle.close()
    }
  } catch (err) {
    return { verdict: fileFailure((err as NodeJS.ErrnoException).code, path) }
  }
}

function distance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length] as number
}

// Settings that sit next to a key and are no key themselves: FIREWORKS_API_URL is 3 edits from FIREWORKS_API_KEY.
const NOT_A_SECRET =
  /_(?:URL|URI|HOST|PORT|BASE|ENDPOINT|MODEL|REGION|ORG|ORGANIZATION|PROJECT|VERSION|TIMEOUT|TYPE|PATH|DIR|ID)$/

const squash = (name: string): string => name.toUpperCase().replace(/[^A-Z0-9]/g, '')

/**
 * Shows a variable name safely: plain names as they are, odd ones (BOM, spaces) JSON-escaped, and a
 * name that may be a key (a `.env` line `fw_…=` whose key landed in the name) described, not shown.
 */
export function showName (name: string): string {
  if (looksLikeKey(name)) return `(a variable whose name looks like a key, ${name.length} characters)`
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name
  // JSON.stringify escapes control characters only; a zero-width space or a BOM would still be invisible.
  return escapeText(JSON.stringify(name))
}

/**
 * Shows a file path safely: control and invisible characters (a trailing newline, an ESC sequence, a
 * bidi override) escaped as `\uXXXX`, and any part of it that may be a key (a key put in the `_FILE`
 * variable instead of a path) replaced, so that no message prints either.
 */
export function showPath (path: string): string {
  const hidden = (part: string): string => `[a value that looks like a key, ${part.length} characters]`
  return path.split(sep).map((part) => looksLikeKey(part) ? hidden(part) : escapeText(part)).join(sep)
}

/** A variable of `env`, read as an own property: a polluted `Object.prototype` holds no variable. */
export const variable = (env: Env, name: string): string | undefined => Object.hasOwn(env, name) ? env[name] : undefined

/** Words that, in another variable's name, point at a provider's key: its id and its variable's first word. */
export function providerWords (id: string, env: string): string[] {
  return [id.toUpperCase(), env.split('_')[0] as string]
}

/**
 * Variables in `env` that were probably meant to be `wanted`: the same name in another case or with
 * stray characters (a BOM from a Windows-saved `.env`), a small edit distance, or the provider's word
 * together with KEY or TOKEN. Names only, never values.
 */
export function nearMisses (wanted: string, words: readonly string[], env: Env): string[] {
  const target = squash(wanted)
  const WANTED = wanted.toUpperCase()
  const WORDS = words.map((word) => word.toUpperCase()).filter((word) => word.length >= 4)
  const scored: Array<[number, string]> = []
  for (const name of Object.keys(env)) {
    if (name === wanted || name === `${wanted}_FILE`) continue
    const upper = name.toUpperCase()
    let score = Infinity
    if (squash(name) === target || squash(name) === target + 'FILE') score = 0
    else if (!NOT_A_SECRET.test(upper)) {
      const d = distance(upper.replace(/^\uFEFF/, '').trim(), WANTED)
      if (d <= (wanted.length >= 12 ? 3 : 2)) score = d
      else if (WORDS.some((word) => upper.includes(word)) && /KEY|TOKEN|SECRET/.test(upper)) score = 5
    }
    if (score !== Infinity) scored.push([score, name])
  }
  return scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1])).slice(0, 3).map(([, name]) => showName(name))
}

const blank = (value: string | undefined): boolean => value === undefined || value.trim() === ''

/** Reads a key: the explicit `value`, then the variable, then its `_FILE` twin. */
export async function readSource (spec: SourceSpec, env: Env): Promise<Reading> {
  if (spec.value !== undefined) {
    return { value: spec.value, source: 'value', where: `the value option of key "${spec.name}"`, notes: [] }
  }
  const fileVar = `${spec.env}_FILE`
  const direct = variable(env, spec.env)
  const file = variable(env, fileVar)
  const notes: NoteCode[] = []
  if (!blank(direct)) {
    if (!blank(file)) notes.push('file-ignored')
    return { value: direct as string, source: 'env', where: spec.env, notes }
  }
  if (!blank(file)) {
    if (direct !== undefined) notes.push('empty-used-file')
    const path = resolve(file as string)
    const where = `${fileVar} (${showPath(path)})`
    const read = await readKeyFile(path)
    if ('verdict' in read) return { source: 'file', where, notes, verdict: read.verdict }
    if (read.text.trim() === '') {
      return { source: 'file', where, notes, ...missing('file-empty', { path: showPath(path) }) }
    }
    return { value: read.text, source: 'file', where, notes }
  }
  const suggestions = nearMisses(spec.env, spec.words, env)
  const reason = direct === undefined ? 'unset' : direct === '' ? 'empty' : 'blank'
  const verdict: Verdict = { cause: 'missing', reason, facts: { suggestions } }
  return { source: direct === undefined ? 'none' : 'env', where: spec.env, notes, verdict }
}
