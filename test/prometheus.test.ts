// Issue 15: the Prometheus recipe (examples/prometheus.ts) as a user runs it: its own process, the real
// OpenTelemetry SDK and Prometheus exporter, scraped over loopback; and the alert rule of
// docs/telemetry.md names what the scrape shows.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import type { Test } from 'tap'
import { fingerprint } from '../index.js'
import { stubFor } from './helpers/stub.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const FW = 'fw_Ex4mpleMetricsKeyNotReal0001'
const BOOT = 20_000

function start (t: Test, env: Record<string, string>): Promise<{ url: string, output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join('examples', 'prometheus.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not listen within ${BOOT} ms:\n${output}`)), BOOT)
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url === undefined) return
      clearTimeout(timer)
      resolve({ url, output: () => output })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code}:\n${output}`))
    })
  })
}

/** The samples of one metric: `labels text → value`, without the exporter's scope label (the same on all). */
function samples (text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)/.exec(line)
    const labels = (match?.[2] ?? '').replace(/,?otel_scope_name="fastify-keyguard"/, '').replace('{,', '{')
    if (match?.[1] === name) out.set(labels, Number(match[3]))
  }
  return out
}

test('examples/prometheus.ts: /metrics shows the four metrics; the alert rule fires on what it shows', async (t) => {
  const stub = await stubFor(t, { mode: 'auth', keys: [FW] })
  const app = await start(t, { FIREWORKS_API_KEY: FW, FIREWORKS_BASE_URL: stub.url })
  t.match(app.url, /^http:\/\/127\.0\.0\.1:/, 'loopback only')
  const scrape = async (): Promise<string> => {
    const res = await fetch(app.url + '/metrics')
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^text\/plain/)
    return res.text()
  }
  const chat = (): Promise<Response> => fetch(app.url + '/chat', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'hi' })
  })

  const booted = await scrape()
  t.same([...samples(booted, 'keyguard_key_up')],
    [['{keyguard_key="fireworks",keyguard_provider="fireworks",keyguard_cause="valid"}', 1]])
  t.same([...samples(booted, 'keyguard_probe_duration_count')], [
    ['{keyguard_key="fireworks",keyguard_provider="fireworks",keyguard_cause="valid",http_response_status_code="200"}', 1]
  ])
  t.match(booted, /^# UNIT keyguard_probe_duration s$/m, 'in seconds')

  // The key is revoked: the chat call gets 401 (counted), keyguard rechecks, the next call is refused.
  stub.set('auth', { keys: [] })
  t.equal((await chat()).status, 502)
  let ready = 0
  for (let i = 0; i < 100 && ready !== 503; i++) {
    ready = (await fetch(app.url + '/readyz')).status
    if (ready !== 503) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(ready, 503)
  t.equal((await chat()).status, 503, 'the gate refuses')

  const text = await scrape()
  for (const family of ['keyguard_key_up', 'keyguard_probe_duration', 'keyguard_upstream_rejections_total',
    'keyguard_gate_refusals_total']) {
    t.match(text, new RegExp(`^# TYPE ${family} `, 'm'), `${family} is exported`)
  }
  const up = samples(text, 'keyguard_key_up')
  t.equal(up.get('{keyguard_key="fireworks",keyguard_provider="fireworks",keyguard_cause="rejected"}'), 0)
  t.equal(up.get('{keyguard_key="fireworks",keyguard_provider="fireworks",keyguard_cause="valid"}'), 1)
  t.same([...samples(text, 'keyguard_upstream_rejections_total')],
    [['{keyguard_key="fireworks",keyguard_provider="fireworks",keyguard_credential_mismatch="false"}', 1]])
  t.same([...samples(text, 'keyguard_gate_refusals_total')], [['{keyguard_key="fireworks",http_route="/chat"}', 1]])
  t.notOk(text.includes(FW) || text.includes(fingerprint(FW)), 'no key, no fingerprint')

  // The documented rule: its expression, evaluated on this scrape, selects the failing key.
  const docs = readFileSync(join(root, 'docs', 'telemetry.md'), 'utf8')
  const rule = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1] ?? ''
  t.match(rule, /expr: keyguard_key_up == 0\n\s+for: 2m/)
  const firing = [...up].filter(([, value]) => value === 0).map(([labels]) => labels)
  t.same(firing, ['{keyguard_key="fireworks",keyguard_provider="fireworks",keyguard_cause="rejected"}'])
})
