import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import { test } from 'tap'
import keyguard from '../index.js'
import { main } from '../lib/cli/main.js'
import { providers } from '../lib/providers/index.js'
import type { ProviderSpec } from '../lib/providers/types.js'
import { memoryIo, root } from './helpers/cli.js'
import { stubFor } from './helpers/stub.js'

const DIR = join(root, 'lib', 'providers')
const NOT_PROVIDERS = new Set(['index.ts', 'types.ts', 'shape.ts'])
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.ts') && !NOT_PROVIDERS.has(f)).sort()

// A rule: a fact field of the spec, or a classify branch.
const RULE = /^\s*(?:(?:baseUrl|requiresBaseUrl|auth|probe|valid|key|adminPrefixes|dashboard):|if \()/
// The convention: `// source: <reference> — <what it shows>` among the comment lines right above a rule.
const SOURCE = /^\s*\/\/ source: \S.* — \S/

/** The 1-based lines of `text` that hold a rule with no source comment right above it. */
export function unsourced (text: string): number[] {
  const lines = text.split('\n')
  const missing: number[] = []
  lines.forEach((line, i) => {
    if (!RULE.test(line)) return
    let at = i - 1
    let sourced = false
    while (at >= 0 && /^\s*\/\//.test(lines[at] as string)) {
      if (SOURCE.test(lines[at] as string)) sourced = true
      at--
    }
    if (!sourced) missing.push(i + 1)
  })
  return missing
}

test('every rule in every provider file says where its fact comes from', async (t) => {
  t.equal(FILES.length, Object.keys(providers).length, 'one file per shipped provider')
  for (const file of FILES) {
    const text = readFileSync(join(DIR, file), 'utf8')
    t.ok(text.split('\n').filter((line) => RULE.test(line)).length >= 5, `${file}: has rules to check`)
    t.same(unsourced(text), [], `${file}: every rule has a "// source: <reference> — <what it shows>" comment`)
  }
})

test('the source check fails a rule without its comment (it can fail)', async (t) => {
  const sourced = '  // why it is so\n  // source: trufflehog pkg/detectors/x — GET /v1/models\n  probe: { path: \'/v1/models\' },\n'
  t.same(unsourced(sourced), [])
  t.same(unsourced('  // just a why\n  probe: { path: \'/v1/models\' },\n'), [2])
  t.same(unsourced('  // source: no dash, no claim\n  valid: jsonWith(\'data\'),\n'), [2])
  t.same(unsourced('    if (answer.status === 498) return { cause: \'limited\' }\n'), [1])
  const real = readFileSync(join(DIR, 'groq.ts'), 'utf8')
  t.same(unsourced(real.replace(/\n\s*\/\/ source: [^\n]*(?=\n\s*if \()/, '')).length, 1, 'dropping one source comment from groq.ts is caught')
})

/** The provider table of docs/providers.md (moved from the README, issue 16): id → its cells. */
function readmeTable (): Map<string, string[]> {
  const page = readFileSync(join(root, 'docs', 'providers.md'), 'utf8')
  const section = page.slice(0, page.indexOf('\n## '))
  const rows = new Map<string, string[]>()
  for (const line of section.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim())
    const id = /^`([a-z0-9-]+)`$/.exec(cells[0] ?? '')?.[1]
    if (id !== undefined && cells.length === 6) rows.set(id, cells)
  }
  return rows
}

test('the provider table (docs/providers.md) lists every shipped provider with its variable, probe route and what is verified', async (t) => {
  const rows = readmeTable()
  t.same([...rows.keys()].sort(), Object.keys(providers).sort(), 'the same providers, no more, no fewer')
  t.equal(rows.size, 22)
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  t.match(readme, /Twenty-two providers ship/)
  for (const [id, provider] of Object.entries(providers) as Array<[string, ProviderSpec]>) {
    const [, variable, route, sentAs, verified] = rows.get(id) ?? []
    t.equal(variable, `\`${provider.env}\``, `${id}: variable`)
    const base = provider.requiresBaseUrl === undefined ? provider.baseUrl : '{baseUrl}'
    t.ok(route?.includes(`${provider.probe.method ?? 'GET'} ${base}${provider.probe.path}`), `${id}: probe route ${route ?? ''}`)
    const auth = provider.auth ?? { header: 'authorization', scheme: 'Bearer' }
    t.ok(sentAs?.toLowerCase().includes(auth.header), `${id}: key sent as ${auth.header}`)
    // A file that marks a fact unverified must say so in the table too, and only then.
    const text = readFileSync(join(DIR, `${id}.ts`), 'utf8')
    const unverified = /UNVERIFIED|source: unverified/.test(text)
    t.equal(/unverified/i.test(verified ?? ''), unverified, `${id}: verified column ${verified ?? ''}`)
  }
})

test('Azure OpenAI: a missing baseUrl is a clear options error at register; with one, the probe uses api-key', async (t) => {
  for (const keys of [['azure-openai'], [{ provider: 'azure-openai' }], [{ name: 'azure', provider: 'azure-openai', env: 'AOAI_KEY' }]]) {
    const app = Fastify()
    t.teardown(() => app.close())
    const err = await app.register(keyguard, { keys: keys as never, env: {} }).ready().then(() => undefined, (e: Error & { code?: string }) => e)
    t.equal(err?.code, 'FST_KEYGUARD_OPTIONS')
    t.match(err?.message, /keys\[0\] \(Azure OpenAI\) needs baseUrl: your resource endpoint, e\.g\. https:\/\/<resource>\.openai\.azure\.com/)
  }
  const stub = await stubFor(t, { keys: ['a'.repeat(32)] })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'azure-openai', baseUrl: stub.url }], env: { AZURE_OPENAI_API_KEY: 'a'.repeat(32) }, probe: { retries: 0, interval: 0 } })
  await app.ready()
  t.match(app.keyguard.report(), { status: 'pass', checks: { 'azure-openai': { cause: 'valid' } } })
  t.equal(stub.requests[0]?.path, '/openai/models?api-version=2024-10-21')
  t.equal(stub.requests[0]?.headers['api-key'], 'a'.repeat(32))
})

test('keyguard check knows every provider; azure-openai without --base-url is a usage error, with it a check', async (t) => {
  const help = memoryIo({})
  t.equal(await main(['--help'], help), 0)
  for (const [id, provider] of Object.entries(providers)) t.ok(help.out().includes(`${id} (${provider.env})`), id)
  const io = memoryIo({ AZURE_OPENAI_API_KEY: 'b'.repeat(32) })
  t.equal(await main(['check', 'azure-openai'], io), 64)
  t.match(io.err(), /^keyguard: azure-openai needs --base-url: your resource endpoint, e\.g\. https:\/\/<resource>/)
  t.notOk(io.err().includes('b'.repeat(32)), 'never the key')
  const found = memoryIo({ AZURE_OPENAI_API_KEY: 'b'.repeat(32) })
  t.equal(await main(['check'], found), 64, 'found by its variable, and told what it needs')
  const stub = await stubFor(t, { keys: ['b'.repeat(32)] })
  const ok = memoryIo({ AZURE_OPENAI_API_KEY: 'b'.repeat(32) })
  t.equal(await main(['check', 'azure-openai', '--base-url', stub.url], ok), 0)
  t.match(ok.out(), /azure-openai/)
  for (const id of ['perplexity', 'cerebras', 'elevenlabs', 'pinecone', 'nvidia', 'deepgram', 'assemblyai', 'langsmith']) {
    const run = memoryIo({ [(providers as Record<string, ProviderSpec>)[id]?.env ?? '']: 'SYNTHETICkey0000000000000000000000000000' })
    t.equal(await main(['check', id, '--base-url', stub.url], run), 1, `${id}: checked, and the stand-in rejects the key`)
    t.match(run.out(), new RegExp(`${id}\\s+${id}\\s+fail\\s+rejected by the provider`))
  }
})
