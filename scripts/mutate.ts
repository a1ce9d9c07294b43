// npm run mutate [-- --only id,id] [--jobs n] [--list]
//
// Hand mutations of the key predicates (scripts/mutants.ts), one at a time, each on a scratch copy
// of the working tree (never the tree itself), each judged by the test files that concern it. A
// mutant is killed when those tests fail (or time out), survives when they pass, and is stale when
// its snippet is no longer found exactly once (the code moved: re-point it in scripts/mutants.ts).
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { MUTANTS } from './mutants.js'
import type { Mutant } from './mutants.js'

type Outcome = 'killed' | 'timeout' | 'survived' | 'stale'

const root = fileURLToPath(new URL('..', import.meta.url))
/** Longest a mutant's test run may take before it counts as killed by a hang. */
const RUN_LIMIT = 240_000

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    jobs: { type: 'string', default: '1' },
    list: { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false }
  }
})

/** A copy of the working tree as it is now (tracked and untracked files, not ignored ones), sharing node_modules. */
function scratch (): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyguard-mutate-'))
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0').filter((file) => file !== '')
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    try {
      copyFileSync(join(root, file), join(dir, file))
    } catch {} // a tracked file deleted in the working tree
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

/** Runs `tests` in `dir`: true when they all pass. */
function run (dir: string, tests: readonly string[]): Promise<'pass' | 'fail' | 'timeout'> {
  return new Promise((resolve) => {
    const tap = join(dir, 'node_modules', '.bin', 'tap')
    const child = spawn(tap, ['--disable-coverage', '--bail', '-R', 'silent', ...tests], { cwd: dir, stdio: 'ignore', detached: true })
    const timer = setTimeout(() => {
      try { process.kill(-(child.pid as number), 'SIGKILL') } catch {}
      resolve('timeout')
    }, RUN_LIMIT)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve(code === 0 ? 'pass' : 'fail')
    })
  })
}

const count = (text: string, snippet: string): number => text.split(snippet).length - 1

async function judge (dir: string, mutant: Mutant): Promise<Outcome> {
  const path = join(dir, mutant.file)
  let original: string
  try {
    original = readFileSync(path, 'utf8')
  } catch {
    return 'stale'
  }
  if (count(original, mutant.find) !== 1) return 'stale'
  writeFileSync(path, original.replace(mutant.find, () => mutant.replace))
  try {
    const result = await run(dir, mutant.tests)
    return result === 'pass' ? 'survived' : result === 'fail' ? 'killed' : 'timeout'
  } finally {
    writeFileSync(path, original)
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, '⏎').slice(0, 70)

async function main (): Promise<number> {
  const only = values.only?.split(',')
  const mutants = MUTANTS.filter((m) => only === undefined || only.includes(m.id))
  if (values.list) {
    for (const m of mutants) console.log(`${m.id}\t${m.file}\t${m.what}`)
    return 0
  }
  const ids = new Set<string>()
  for (const m of MUTANTS) {
    if (ids.has(m.id)) throw new Error(`duplicate mutant id ${m.id}`)
    ids.add(m.id)
  }
  const jobs = Math.max(1, Number(values.jobs) || 1)
  const dirs = Array.from({ length: Math.min(jobs, mutants.length) }, scratch)
  const cleanup = (): void => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }) }
  process.once('SIGINT', () => { cleanup(); process.exit(130) })
  try {
    if (!values['no-baseline']) {
      // Unmutated, the chosen tests must pass: otherwise every mutant would look killed.
      const all = [...new Set(mutants.flatMap((m) => m.tests))]
      const base = await run(dirs[0] as string, all)
      if (base !== 'pass') {
        console.error(`baseline: the tests fail (${base}) without any mutant: ${all.join(' ')}`)
        return 2
      }
    }
    const results = new Map<Mutant, { outcome: Outcome, ms: number }>()
    const queue = [...mutants]
    await Promise.all(dirs.map(async (dir) => {
      for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
        const started = performance.now()
        const outcome = await judge(dir, m)
        results.set(m, { outcome, ms: performance.now() - started })
        console.error(`${outcome.padEnd(8)} ${m.id} (${Math.round((performance.now() - started) / 1000)} s) ${m.what}`)
      }
    }))
    console.log('| id | file | mutation | result | tests |')
    console.log('| --- | --- | --- | --- | --- |')
    for (const m of mutants) {
      const { outcome } = results.get(m) as { outcome: Outcome }
      console.log(`| ${m.id} | ${m.file.replace(/^lib\//, '')} | ${cell(m.what)} | ${outcome} | ${m.tests.map((t) => t.replace(/^test\//, '')).join(' ')} |`)
    }
    const by = (o: Outcome): Mutant[] => mutants.filter((m) => results.get(m)?.outcome === o)
    const killed = by('killed').length + by('timeout').length
    const survived = by('survived')
    const judged = killed + survived.length
    console.log(`\nscore: ${killed}/${judged} killed (${judged === 0 ? 0 : Math.round(100 * killed / judged)} %); ` +
      `${survived.length} survived; ${by('stale').length} stale`)
    for (const m of survived) console.log(`survived ${m.id}: ${m.what}${m.equivalent === undefined ? ' — UNEXPLAINED' : ` — equivalent: ${m.equivalent}`}`)
    for (const m of by('stale')) console.log(`stale ${m.id}: snippet not found exactly once in ${m.file}; re-point it`)
    // Fails when a mutant survives without an explanation, or an explained one is killed (the note is out of date).
    const unexplained = survived.filter((m) => m.equivalent === undefined)
    const outdated = mutants.filter((m) => m.equivalent !== undefined && results.get(m)?.outcome === 'killed')
    for (const m of outdated) console.log(`killed ${m.id}, which is marked equivalent: drop the note`)
    return unexplained.length > 0 || outdated.length > 0 ? 1 : 0
  } finally {
    cleanup()
  }
}

process.exitCode = await main()
