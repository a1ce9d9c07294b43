/**
 * `npm run fuzz:keys [runs]`: the offline-inspection property of test/keys.test.ts at full size. Every
 * issued key format of every shipped provider, a million generated keys each by default, through
 * inspect(): none may be refused, and no connection may be made. Prints one line per format and exits 1
 * on the first refusal (with fast-check's shrunk counterexample and seed). Not part of `npm test`: it
 * takes minutes.
 */
import { providers } from '../lib/providers/index.js'
import { checkFormats } from '../test/helpers/keys.js'

const runs = Number(process.argv[2] ?? 1_000_000)
const started = performance.now()
let total = 0
let connections = 0
for (const id of Object.keys(providers)) {
  for (const run of checkFormats(id, runs)) {
    total += run.runs
    connections += run.connections
    const rate = Math.round(run.runs / (run.ms / 1000))
    const took = `${(run.ms / 1000).toFixed(1)} s (${rate}/s)`
    process.stdout.write(`${id.padEnd(13)} ${run.format.padEnd(24)} ${run.runs} keys, 0 refused, ${run.connections} connections, ${took}\n`)
  }
}
const seconds = (performance.now() - started) / 1000
const count = Object.keys(providers).length
process.stdout.write(`total: ${total} keys over ${count} providers, 0 refused, ${connections} connections, ${seconds.toFixed(1)} s\n`)
if (connections > 0) process.exitCode = 1
