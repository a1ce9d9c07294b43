// The check pipeline as a function of its inputs: no app, no timers.
import { test } from 'tap'
import { NO_TELEMETRY } from '../lib/core/telemetry.js'
import { check, SETTLE } from '../lib/core/check.js'
import type { Context } from '../lib/core/check.js'
import { silentLogger } from '../lib/core/log.js'
import { resolveOptions } from '../lib/core/options.js'
import type { ResolvedKey } from '../lib/core/options.js'
import { SecretForms } from '../lib/core/redact.js'
import { probeUrl } from '../lib/core/probe.js'

const KEY = 'fw_' + 'K'.repeat(32)

function context (pause: (ms: number) => Promise<void>, signal: AbortSignal, reads: { n: number }): Context {
  return {
    options: { onUnreachable: 'warn', probe: false },
    env: async () => { reads.n++; return {} },
    dispatcher: () => undefined,
    signal,
    random: Math.random,
    forms: new SecretForms(),
    pause,
    onFault: () => {},
    log: silentLogger,
    scrub: (text) => text,
    telemetry: NO_TELEMETRY,
    url: (spec) => probeUrl(spec.baseUrl, spec.provider)
  }
}

test('a source that broke under a working key is read again SETTLE.tries times, and not once more after close', async (t) => {
  const spec = resolveOptions({ keys: ['fireworks'], env: {}, probe: false }, {}).keys[0] as ResolvedKey
  const current = { spec, secret: KEY, result: { status: 'pass', cause: 'unchecked' }, strikes: 0 } as const
  const waits: number[] = []
  const reads = { n: 0 }
  const settled = await check(context(async (ms) => { waits.push(ms) }, new AbortController().signal, reads), current)
  t.match(settled, { verdict: { cause: 'missing', reason: 'unset' } }, 'still broken after the re-reads: it counts')
  t.same(waits, Array(SETTLE.tries).fill(SETTLE.wait))
  t.equal(reads.n, 1 + SETTLE.tries)
  const controller = new AbortController()
  reads.n = 0
  await check(context(async () => { controller.abort() }, controller.signal, reads), current)
  t.equal(reads.n, 1, 'the server closed during the wait: no further read')
  reads.n = 0
  await check(context(async () => { t.fail('no wait') }, new AbortController().signal, reads), { ...current, secret: undefined })
  t.equal(reads.n, 1, 'no key in use: nothing to protect, no re-read')
})
