// `npm run bench -- --runs=3`: the results of several consecutive full runs folded into one table. Every
// figure is the median of the runs' figures; every "(min–max)" becomes the spread of the runs' medians,
// so a goal is judged on the middle run of three, and the spread shows how far one run can swing.

/** A figure with its spread, as bench/run.ts reports it. */
interface Spread { median: number, min: number, max: number }

const isSpread = (value: object): value is Spread =>
  Object.keys(value).length === 3 && 'median' in value && 'min' in value && 'max' in value

/** The median (the mean of the middle two for an even count). */
export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function merge (values: unknown[]): unknown {
  const first = values[0]
  if (typeof first === 'number') return median(values as number[])
  if (Array.isArray(first)) return first.map((_, i) => merge(values.map((value) => (value as unknown[])[i])))
  if (first !== null && typeof first === 'object') {
    if (isSpread(first)) {
      const medians = values.map((value) => (value as Spread).median)
      return { median: median(medians), min: Math.min(...medians), max: Math.max(...medians) }
    }
    const keys = Object.keys(first)
    return Object.fromEntries(keys.map((key) => [key, merge(values.map((value) => (value as Record<string, unknown>)[key]))]))
  }
  // Text (labels, a key's status) and flags: the last run's; the caller judges the goals again.
  return values[values.length - 1]
}

/** The runs folded into one: rows matched by position (every run ran the same cases in the same order). */
export function mergeRuns<T> (runs: readonly T[]): T {
  if (runs.length === 0) throw new Error('bench: no run to merge')
  return merge([...runs]) as T
}
