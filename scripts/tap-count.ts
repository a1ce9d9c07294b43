// Counting a tap run's assertions from its raw TAP (scripts/test.ts prints the line .ci/run reads).
import { Parser } from 'tap-parser'
import type { Result } from 'tap-parser'

export interface Counts {
  pass: number
  fail: number
  todo: number
  skip: number
  /** Each failure in full: its name path and tap's diagnostics (diff, source, stack). */
  failures: string[]
}

/** A failure as tap's YAML diagnostics carry it, the multi-line strings (diff, source) as they are. */
function describe (result: Result): string {
  const lines = [`✖ ${result.fullname.replace(/\\#/g, '#')}`]
  for (const [key, value] of Object.entries(result.diag ?? {})) {
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    lines.push(text.includes('\n') ? `  ${key}:\n${text.replace(/^/gm, '    ')}` : `  ${key}: ${text}`)
  }
  return lines.join('\n')
}

/**
 * Assertions, not test points: tap's own `# { total, fail }` also counts each failing subtest around a failing
 * assertion, so one broken `t.equal` in a `t.test` reads "2 failed". A subtest (or a test file) that fails
 * without a failing assertion of its own (a throw, a timeout, a crash before any assertion) counts as one.
 */
export function countAssertions (tap: string): Counts {
  const counts: Counts = { pass: 0, fail: 0, todo: 0, skip: 0, failures: [] }
  const watch = (parser: Parser): void => {
    // Each child parser is closed by the next test point of its parent, which is not an assertion.
    const children: Array<() => number> = []
    parser.on('child', (child: Parser) => {
      const before = counts.fail
      children.push(() => counts.fail - before)
      watch(child)
    })
    parser.on('assert', (result: Result) => {
      const failedInside = children.shift()
      if (failedInside !== undefined) {
        if (!result.ok && result.todo === false && result.skip === false && failedInside() === 0) {
          counts.fail++
          counts.failures.push(describe(result))
        }
      } else if (result.todo !== false) counts.todo++
      else if (result.skip !== false) counts.skip++
      else if (result.ok) counts.pass++
      else {
        counts.fail++
        counts.failures.push(describe(result))
      }
    })
  }
  const parser = new Parser()
  watch(parser)
  parser.end(tap)
  return counts
}
