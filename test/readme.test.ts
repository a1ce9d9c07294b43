// Issue 11 #8: every number in the README that the code decides is checked against the code. Each claim
// is a pattern with the numbers it states captured; every occurrence must hold, and each must occur.
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { EXIT } from '../lib/cli/main.js'
import { SETTLE } from '../lib/core/check.js'
import { SUSPECT_GAP } from '../lib/core/guard.js'
import { KEY_LENGTH } from '../lib/core/inspect.js'
import { DEFAULTS, LIMITS } from '../lib/core/options.js'
import { BODY_CAP } from '../lib/core/probe.js'
import { RETRY_AFTER as GATE_RETRY_AFTER } from '../lib/core/retry-after.js'
import { BACKOFF, CONCURRENCY, PROBE_BACKOFF } from '../lib/core/schedule.js'
import { FINGERPRINT } from '../lib/core/redact.js'
import { MAX_KEY_FILE } from '../lib/core/source.js'
import { retryAfterSeconds } from '../lib/upstream/sdk.js'

/** The README and the docs pages it moved its manual into (issue 16): every claim holds wherever it now lives. */
const PAGES = ['README.md', 'docs/usage.md', 'docs/api.md', 'docs/causes-and-reasons.md', 'docs/problems.md',
  'docs/providers.md', 'docs/cli.md', 'docs/kubernetes.md', 'docs/security.md', 'docs/architecture.md', 'docs/contributing.md']
const README = PAGES.map((page) => readFileSync(new URL(`../${page}`, import.meta.url), 'utf8')).join('\n').replace(/\s+/g, ' ')
const { timeout, retries, interval, jitter } = DEFAULTS.probe
/** "600 000" and "600000" are the same number. */
const n = (text: string): number => Number(text.replace(/ /g, ''))
const NUM = '(\\d[\\d ]*\\d|\\d)'

const claims: Array<[string, RegExp, number[]]> = [
  ['boot concurrency', /checked concurrently \((\d+) at a time\)/g, [CONCURRENCY]],
  ['_FILE size cap', /read with a size cap \((\d+) KiB\)/g, [MAX_KEY_FILE / 1024]],
  ['probe body cap', /at most (\d+) KiB/g, [BODY_CAP / 1024]],
  ['recheck interval and jitter', /every (\d+) min ±(\d+) % while the key works; backoff from (\d+) s to (\d+) min/g,
    [interval / 60_000, jitter * 100, BACKOFF.base / 1000, BACKOFF.cap / 60_000]],
  ['settle wait', /read again a few times \((\d+) ms apart\)/g, [SETTLE.wait]],
  ['probe defaults', /`\{ timeout: (\d+), retries: (\d+), interval: (\d+), jitter: ([\d.]+) \}`/g, [timeout, retries, interval, jitter]],
  ['timeout row', new RegExp(`\`timeout\` \\| \`number\` \\(ms, ${NUM}–${NUM}\\) \\| \`(\\d+)\``, 'g'), [LIMITS.timeout.min, LIMITS.timeout.max, timeout]],
  ['retries row', /`retries` \| `number` \((\d+)–(\d+)\) \| `(\d+)` .*?backoff of at most (\d+) s/g, [LIMITS.retries.min, LIMITS.retries.max, retries, PROBE_BACKOFF.cap / 1000]],
  ['interval row', /`interval` \| `number` \(ms\) \| `(\d+)`/g, [interval]],
  ['jitter row', /`jitter` \| `number` \(0–1\) \| `([\d.]+)` \| spread of `interval`, as a fraction: ([\d.]+) = ±(\d+) %/g, [jitter, jitter, jitter * 100]],
  ['failing backoff', /\((\d+) s, (\d+) s, (\d+) s … up to (\d+) min/g, [BACKOFF.base / 1000, BACKOFF.base / 500, BACKOFF.base / 250, BACKOFF.cap / 60_000]],
  ['problem status row', /`status` \| `number` \((\d+)–(\d+)\) \| `(\d+)`/g, [LIMITS.status.min, LIMITS.status.max, DEFAULTS.problem.status]],
  ['gate Retry-After', /next check \((\d+)–(\d+); (\d+) when no check is scheduled/g, [GATE_RETRY_AFTER.min, GATE_RETRY_AFTER.max, GATE_RETRY_AFTER.none]],
  ['suspect gap', /at most one recheck per key per replica every (\d+) s/g, [SUSPECT_GAP / 1000]],
  ['fingerprint', /`sha256:` and (\d+) hex digits of a hash for keys shorter than (\d+) characters/g, [FINGERPRINT.hexDigits, FINGERPRINT.shortest]],
  ['probing cost', /\((\d+) s by default\), each delay drawn uniformly from ±(\d+) % \((\d+)–(\d+) s\)\. With 1 000 replicas sharing one key that is 1 000 \/ (\d+) s/g,
    [interval / 1000, jitter * 100, interval * (1 - jitter) / 1000, interval * (1 + jitter) / 1000, interval / 1000]],
  ['worst-case probing', /jitter up to a (\d+)-minute cap: in the worst case, 1 000 replicas make about 1 000 \/ (\d+) s/g, [BACKOFF.cap / 60_000, BACKOFF.cap / 2000]],
  ['key length window', /`minLength` \((\d+)\), `maxLength` \((\d+)\)/g, [KEY_LENGTH.min, KEY_LENGTH.max]],
  ['CLI timeout default', /deadline of one probe attempt \(default (\d+)\)/g, [timeout]],
  ['CLI exit codes', /\*\*(\d+)\*\* every key passes; \*\*(\d+)\*\* a key fails .*?\*\*(\d+)\*\* warnings only .*?\*\*(\d+)\*\* usage error/g, [EXIT.pass, EXIT.fail, EXIT.warn, EXIT.usage]],
  ['upstream Retry-After cap', /parsed strictly and capped at (\d+) s/g, [retryAfterSeconds('999999') as number]]
]

test('hardening #8: every number the code decides is stated in the README as the code has it', async (t) => {
  for (const [what, pattern, expected] of claims) {
    const found = [...README.matchAll(pattern)]
    t.ok(found.length > 0, `${what}: stated in the README`)
    for (const match of found) t.same(match.slice(1).map(n), expected, `${what}: "${match[0].slice(0, 80)}"`)
  }
})

test('hardening #8: no other concurrency, cap or default is stated than the checked ones', async (t) => {
  // Any "N at a time" or "N KiB" anywhere must be one of the checked statements above.
  t.same([...README.matchAll(/(\d+) at a time/g)].map((m) => n(m[1] as string)), [CONCURRENCY])
  for (const m of README.matchAll(/(\d+) KiB/g)) t.ok([MAX_KEY_FILE / 1024, BODY_CAP / 1024].includes(n(m[1] as string)), m[0])
  t.notMatch(README, /details: true \}/, 'the old readiness default is gone')
  t.match(README, /details: 'verbose', hide: false \}/)
})
