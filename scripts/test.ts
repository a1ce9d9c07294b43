// `npm test`: lint, type-check, build, tstyche and tap's plugin build side by side (they share nothing; each is one process that
// leaves the other core idle part of the time), then tap. A step that passes prints one line; a step
// that fails prints all its output. tap and tstyche print their own short summaries (tap through
// scripts/tap-reporter.js); the line `tap: N assertions passed, N failed` (counted here from tap's raw output)
// and tstyche's `Tests:` line are what .ci/run reads. Exit code: 1 when any step failed.
import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { redisServerPath } from '../test/helpers/redis.js'
import { countAssertions } from './tap-count.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string): string => join(root, 'node_modules', '.bin', name)

interface Step { name: string, command: string, args: string[], stream?: boolean }

interface Outcome { name: string, ok: boolean, output: string, seconds: number }

function run (step: Step): Promise<Outcome> {
  const began = performance.now()
  return new Promise((resolve) => {
    const out = step.stream === true ? 'inherit' : 'pipe'
    const child = spawn(step.command, step.args, { cwd: root, stdio: ['ignore', out, out] })
    let output = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    const done = (ok: boolean, extra = ''): void => {
      resolve({ name: step.name, ok, output: output + extra, seconds: (performance.now() - began) / 1000 })
    }
    child.on('error', (err) => done(false, `${step.name}: ${err.message}\n`))
    child.on('close', (code, signal) => done(code === 0, code === 0 ? '' : `${step.name}: exit ${code ?? signal}\n`))
  })
}

function report (outcome: Outcome): void {
  if (outcome.ok) {
    console.log(`${outcome.name}: ok (${outcome.seconds.toFixed(1)} s)`)
  } else {
    process.stdout.write(outcome.output === '' || outcome.output.endsWith('\n') ? outcome.output : `${outcome.output}\n`)
    console.log(`${outcome.name}: FAILED (${outcome.seconds.toFixed(1)} s)`)
  }
}

/** The raw TAP of the last tap run (`tap -o`), read back for the counts. */
const RAW = join(root, '.tap', 'run.tap')

// The fleet tests need a real redis-server (test/helpers/redis.ts); without one they skip, and the lines only
// they reach stay uncovered. That is said here, loudly, and only then may coverage fall short; .ci/run installs it.
const redis = redisServerPath() !== undefined
const coverage = redis ? [] : ['--allow-incomplete-coverage']
if (!redis) {
  console.log('fleet: redis-server is not installed, so test/fleet/* skip and coverage is not enforced on this run ' +
    '(apt-get install redis-server; .ci/run installs it)')
}

const began = performance.now()
const checks = await Promise.all([
  run({ name: 'lint', command: bin('eslint'), args: [] }),
  run({ name: 'typecheck', command: bin('tsc'), args: ['--noEmit'] }),
  run({ name: 'build', command: process.execPath, args: ['--import', 'tsx', join(root, 'scripts', 'build.ts')] }),
  run({ name: 'tstyche', command: bin('tstyche'), args: [] }),
  // tap builds its Test class from the plugins package.json names. A run that finds it stale (the first
  // after `npm ci`) rebuilds it, but still starts its test files with the stale set's loaders: ts-node
  // besides tsx, 50 s more on that run. Built here first, the run uses the plugins it is told to.
  run({ name: 'tap build', command: bin('tap'), args: ['build'] })
])
checks.forEach(report)
// tstyche's own summary when it passed (its `Tests:` line is what .ci/run counts); a failure printed everything.
const types = checks[3] as Outcome
if (types.ok) console.log(types.output.split('\n').filter((line) => /^(Test files|Tests|Assertions):/.test(line)).join('\n'))
let ok = checks.every((outcome) => outcome.ok)
if (ok) {
  rmSync(RAW, { force: true })
  const tap = await run({ name: 'tap', command: bin('tap'), args: ['-R', './scripts/tap-reporter.js', '-o', RAW, ...coverage], stream: true })
  let tally = 'no raw TAP to count'
  try {
    const { pass, fail, todo, skip, failures } = countAssertions(readFileSync(RAW, 'utf8'))
    tally = `${pass} assertions passed, ${fail} failed, ${todo} todo, ${skip} skipped`
    // Again from the raw TAP: under CI=1, Ink writes the reporter's failure list only on exit, not always.
    if (failures.length > 0) console.log(`\nFailed assertions:\n${failures.join('\n\n')}\n`)
  } catch {}
  console.log(`tap: ${tally}; ${tap.ok ? 'ok' : 'FAILED'} (${tap.seconds.toFixed(1)} s)`)
  ok = tap.ok
}
console.log(`npm test: ${ok ? 'ok' : 'FAILED'}${redis ? '' : ' (fleet tests skipped: no redis-server)'} in ${((performance.now() - began) / 1000).toFixed(0)} s`)
process.exitCode = ok ? 0 : 1
