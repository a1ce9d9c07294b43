import type { Test } from 'tap'
import type { Dispatcher } from 'undici'
import type { ProbeSettings } from '../../lib/core/probe.js'
import type { ProviderSpec } from '../../lib/providers/types.js'
import { describe } from '../../lib/core/wording.js'
import type { Verdict } from '../../lib/core/causes.js'

/** Probe settings for tests: a short deadline, no retries, no jitter. */
export function settings (over: Partial<ProbeSettings> = {}): ProbeSettings {
  return { timeout: 300, retries: 0, signal: new AbortController().signal, random: () => 0, ...over }
}

/** The settings with a dispatcher, or without one (node:http). */
export function via (dispatcher: Dispatcher | undefined, over: Partial<ProbeSettings> = {}): ProbeSettings {
  return dispatcher === undefined ? settings(over) : settings({ ...over, dispatcher })
}

/**
 * Renders a verdict the way the guard does and returns the message and fix, after checking that the
 * message names the provider and the variable and holds neither the key nor any of `upstream`.
 */
export function render (t: Test, verdict: Verdict, provider: ProviderSpec, key: string, upstream: string[] = []): { message: string, fix: string } {
  const where = `${provider.env}_FILE (/run/secrets/x)`
  // The probe went to a loopback stand-in: in an application that is a baseUrl the user set.
  const subject = { label: provider.label, where, env: provider.env, fingerprint: 'fp_…0000', dashboard: provider.dashboard, baseUrl: verdict.facts?.origin }
  const out = describe(verdict, subject)
  t.ok(out.message.includes(provider.label), 'the message names the provider')
  t.ok(out.message.includes(where), 'the message names where the key came from')
  for (const text of [key, ...upstream]) {
    t.notOk(out.message.includes(text) || out.fix.includes(text), 'no key and no upstream text in the message')
  }
  return out
}
