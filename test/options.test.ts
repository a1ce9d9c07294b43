import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import Fastify from 'fastify'
import { test } from 'tap'
import ts from 'typescript'
import { Agent } from 'undici'
import keyguard, { DEFAULTS, FST_KEYGUARD_OPTIONS, PROBLEM_TYPES, providers } from '../index.js'
import type { ProviderSpec } from '../index.js'
import { checkBaseUrl, isOptionsError, resolveOptions } from '../lib/core/options.js'
import type { OptionsError } from '../lib/core/options.js'
import { GROUPS, jsdocDefault, KEY_SPEC, OPTIONS, readmeDefault } from '../lib/core/option-table.js'
import type { Field, Group } from '../lib/core/option-table.js'

const KEY = 'fw_' + 'A'.repeat(40)
const SECRET = 'Zz9SeCrEt' + 'Q'.repeat(24)
const KNOWN = Object.keys(providers).join(', ')
const acme: ProviderSpec = { id: 'acme', label: 'Acme AI', env: 'ACME_API_KEY', baseUrl: 'https://api.acme.example', probe: { path: '/v1/models' } }
const keySpec = (extra: Record<string, unknown>) => ({ keys: [{ provider: 'fireworks', ...extra }] })
const custom = (extra: Record<string, unknown>) => ({ keys: [{ provider: { ...acme, ...extra } }] })

/** Registers the plugin on a real Fastify instance and returns what register rejected with. */
async function register (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  try {
    app.register(keyguard, options as never)
    return await app.ready().then(() => { throw new Error('register resolved') }, (err: Error) => err)
  } finally {
    await app.close().catch(() => {})
  }
}

// [title, options, what the message must say]
const INVALID: Array<[string, unknown, RegExp]> = [
  ['unknown option', { keys: ['fireworks'], onInvalide: 'refuse' }, /unknown option "onInvalide"; expected keys, onInvalid, onUnreachable, env, dotenv, probe, health, fleet, problem, onChange/],
  ['keys missing', {}, /option "keys" must be a non-empty array of provider ids or KeySpec objects; received undefined/],
  ['keys empty', { keys: [] }, /option "keys" must be a non-empty array .*; received an array/],
  ['keys not an array', { keys: 'fireworks' }, /option "keys" must be a non-empty array .*; received "fireworks"/],
  ['unknown provider id', { keys: ['fireworkz'] }, new RegExp(`keys\\[0\\] is "fireworkz", which is not a known provider; known: ${KNOWN}\\. Use a KeySpec with a ProviderSpec`)],
  ['a key where a provider id goes', { keys: [KEY] }, /keys\[0\] is a string of 43 characters, which is not a known provider; known: fireworks, /],
  ['a short key where a provider id goes', { keys: ['fw_abcdefghijklmnop'] }, /keys\[0\] is a string of 19 characters/],
  ['a hole in keys', { keys: [, 'fireworks'] }, /keys\[0\] must be a provider id or a KeySpec object; received undefined/], // eslint-disable-line no-sparse-arrays -- the hole is the point
  ['a number where a key goes', { keys: [5] }, /keys\[0\] must be a provider id or a KeySpec object; received 5/],
  ['unknown KeySpec provider', keySpec({ provider: 'nope' }), new RegExp(`option "keys\\[0\\]\\.provider" is "nope", which is not a known provider; known: ${KNOWN}\\. Pass a ProviderSpec`)],
  ['KeySpec without provider', { keys: [{ env: 'X_KEY' }] }, new RegExp(`keys\\[0\\] needs a provider: a provider id \\(${KNOWN}\\) or a ProviderSpec object`)],
  ['KeySpec unknown field', keySpec({ key: KEY }), /keys\[0\] has an unknown field "key"; expected name, provider, env, value, baseUrl, required, probe/],
  ['KeySpec bad name', keySpec({ name: 'my key' }), /option "keys\[0\]\.name" must be letters, digits, "\.", "_" or "-" \(at most 64\); received a string of 6 characters/],
  ['KeySpec bad env', keySpec({ env: 'FIREWORKS-API-KEY' }), /option "keys\[0\]\.env" must be an environment variable name; received "FIREWORKS-API-KEY"/],
  ['KeySpec value not a string', keySpec({ value: 123456789012345 }), /option "keys\[0\]\.value" must be a string; received a number$/],
  ['KeySpec value null', keySpec({ value: null }), /option "keys\[0\]\.value" must be a string; received null$/],
  ['KeySpec required not boolean', keySpec({ required: 'yes' }), /option "keys\[0\]\.required" must be a boolean; received "yes"/],
  ['KeySpec probe not boolean', keySpec({ probe: {} }), /option "keys\[0\]\.probe" must be a boolean; received an object/],
  ['duplicate names', { keys: ['fireworks', { provider: 'fireworks' }] }, /two keys are named "fireworks"; give each KeySpec its own name/],
  ['ProviderSpec not an object', { keys: [{ provider: 42 }] }, /option "keys\[0\]\.provider" must be a provider id or a ProviderSpec object; received 42/],
  ['ProviderSpec id', custom({ id: 'Acme AI' }), /option "keys\[0\]\.provider\.id" must be lower-case letters, digits and "-"; received a string of 7 characters/],
  ['ProviderSpec label', custom({ label: '' }), /option "keys\[0\]\.provider\.label" must be a non-empty string/],
  ['ProviderSpec env', custom({ env: 'acme key' }), /option "keys\[0\]\.provider\.env" must be an environment variable name/],
  ['ProviderSpec baseUrl', custom({ baseUrl: 'http://api.acme.example' }), /option "keys\[0\]\.provider\.baseUrl" must be an https:\/\/ URL/],
  ['ProviderSpec probe missing', custom({ probe: undefined }), /option "keys\[0\]\.provider\.probe\.path" must be a path starting with "\/"/],
  ['ProviderSpec probe path', custom({ probe: { path: 'v1/models' } }), /probe\.path" must be a path starting with "\/"/],
  ['ProviderSpec probe path type', custom({ probe: { path: 5 } }), /probe\.path" must be a path starting with "\/"/],
  ['ProviderSpec probe method', custom({ probe: { path: '/v1', method: 'DELETE' } }), /option "keys\[0\]\.provider\.probe\.method" must be one of 'GET', 'POST'; received "DELETE"/],
  ['ProviderSpec auth not object', custom({ auth: 'Bearer' }), /option "keys\[0\]\.provider\.auth\.header" must be a header name/],
  ['ProviderSpec auth header type', custom({ auth: { header: 5 } }), /auth\.header" must be a header name/],
  ['ProviderSpec auth header', custom({ auth: { header: 'x api key' } }), /auth\.header" must be a header name/],
  ['ProviderSpec valid', custom({ valid: true }), /option "keys\[0\]\.provider\.valid" must be a function; received true/],
  ['ProviderSpec classify', custom({ classify: 'x' }), /option "keys\[0\]\.provider\.classify" must be a function; received "x"/],
  ['ProviderSpec key', custom({ key: 'fw_' }), /option "keys\[0\]\.provider\.key" must be an object; received a string of 3 characters/],
  ['ProviderSpec key.pattern', custom({ key: { pattern: '^fw_' } }), /option "keys\[0\]\.provider\.key\.pattern" must be a RegExp; received a string of 4 characters/],
  ['ProviderSpec key.prefixes type', custom({ key: { prefixes: 'fw_' } }), /key\.prefixes" must be an array of non-empty strings/],
  ['ProviderSpec key.prefixes empty', custom({ key: { prefixes: [''] } }), /key\.prefixes" must be an array of non-empty strings/],
  ['ProviderSpec key.minLength', custom({ key: { minLength: 0 } }), /option "keys\[0\]\.provider\.key\.minLength" must be an integer from 1 to 65536; received 0/],
  ['ProviderSpec key.maxLength below minLength', custom({ key: { minLength: 40, maxLength: 20 } }), /key\.maxLength" must be an integer from 40 to 65536; received 20/],
  ['ProviderSpec key.maxLength', custom({ key: { maxLength: 1.5 } }), /key\.maxLength" must be an integer from 1 to 65536; received 1\.5/],
  ['onInvalid', { keys: ['fireworks'], onInvalid: 'REFUSE' }, /option "onInvalid" must be one of 'refuse', 'degrade'; received "REFUSE"/],
  ['onUnreachable', { keys: ['fireworks'], onUnreachable: 'ignore' }, /option "onUnreachable" must be one of 'refuse', 'degrade', 'warn'; received "ignore"/],
  ['env not an object', { keys: ['fireworks'], env: 'FIREWORKS_API_KEY' }, /option "env" must be an object of strings; received "FIREWORKS_API_KEY"/],
  ['env array', { keys: ['fireworks'], env: [] }, /option "env" must be an object of strings; received an array/],
  ['env value a number', { keys: ['fireworks'], env: { FIREWORKS_API_KEY: 123456789012345 } }, /option "env" must be an object of strings; env\.FIREWORKS_API_KEY is a number$/],
  ['env value null', { keys: ['fireworks'], env: { FIREWORKS_API_KEY: null } }, /env\.FIREWORKS_API_KEY is null$/],
  ['dotenv', { keys: ['fireworks'], dotenv: 1 }, /option "dotenv" must be a boolean or a file path; received 1/],
  ['dotenv empty path', { keys: ['fireworks'], dotenv: '' }, /option "dotenv" must be a boolean or a file path; received a string of 0 characters/],
  // Issue 16 #6: a .env file named on purpose and missing is an error at register, naming the file and the fix.
  ['dotenv file missing', { keys: ['fireworks'], dotenv: '.env.missing' }, /option "dotenv": \.env\.missing does not exist \(resolved to \/.*\/\.env\.missing\)\. Fix: correct the path, create the file, or use dotenv: true to read \.\/\.env only when it exists$/],
  ['dotenv under a file', { keys: ['fireworks'], dotenv: 'package.json/.env' }, /option "dotenv": package\.json\/\.env cannot be read \(resolved to /],
  ['probe', { keys: ['fireworks'], probe: true }, /option "probe" must be false or an object; received true/],
  ['probe unknown field', { keys: ['fireworks'], probe: { retry: 1 } }, /option "probe" has an unknown field "retry"; expected timeout, retries, interval, jitter, dispatcher/],
  ['probe.timeout', { keys: ['fireworks'], probe: { timeout: 0 } }, /option "probe\.timeout" must be an integer from 1 to 600000 \(milliseconds\); received 0/],
  ['probe.timeout string', { keys: ['fireworks'], probe: { timeout: '5s' } }, /option "probe\.timeout" must be an integer .*; received a string of 2 characters/],
  ['probe.retries', { keys: ['fireworks'], probe: { retries: 11 } }, /option "probe\.retries" must be an integer from 0 to 10; received 11/],
  ['probe.interval', { keys: ['fireworks'], probe: { interval: -1 } }, /option "probe\.interval" must be an integer from 0 to 2147483647 \(milliseconds; 0 turns rechecks off\); received -1/],
  ['probe.jitter', { keys: ['fireworks'], probe: { jitter: 2 } }, /option "probe\.jitter" must be a number from 0 to 1; received 2/],
  ['probe.jitter NaN', { keys: ['fireworks'], probe: { jitter: Number.NaN } }, /option "probe\.jitter" must be a number from 0 to 1; received NaN/],
  ['probe.jitter string', { keys: ['fireworks'], probe: { jitter: '0.2' } }, /probe\.jitter" must be a number from 0 to 1; received a string of 3 characters/],
  ['probe.dispatcher', { keys: ['fireworks'], probe: { dispatcher: {} } }, /option "probe\.dispatcher" must be an undici Dispatcher; received an object/],
  ['probe.dispatcher function', { keys: ['fireworks'], probe: { dispatcher: () => {} } }, /option "probe\.dispatcher" must be an undici Dispatcher; received a function/],
  ['health', { keys: ['fireworks'], health: 'on' }, /option "health" must be false or an object; received "on"/],
  ['health unknown field', { keys: ['fireworks'], health: { startup: '/startz' } }, /option "health" has an unknown field "startup"; expected live, ready, details/],
  ['health.live', { keys: ['fireworks'], health: { live: 'livez' } }, /option "health\.live" must be a path starting with "\/" or false; received "livez"/],
  ['health.ready', { keys: ['fireworks'], health: { ready: true } }, /option "health\.ready" must be a path starting with "\/" or false; received true/],
  ['health same paths', { keys: ['fireworks'], health: { live: '/health', ready: '/health' } }, /options "health\.live" and "health\.ready" must be different paths/],
  ['health.details', { keys: ['fireworks'], health: { details: 'no' } }, /option "health\.details" must be 'verbose', 'always' or false; received "no"/],
  ['problem', { keys: ['fireworks'], problem: 502 }, /option "problem" must be false or an object; received 502/],
  ['problem unknown field', { keys: ['fireworks'], problem: { title: 'x' } }, /option "problem" has an unknown field "title"; expected status, type/],
  ['problem.status', { keys: ['fireworks'], problem: { status: 401 } }, /option "problem\.status" must be an integer from 500 to 599 \(a server error: the upstream rejected our credentials, not the client\); received 401/],
  ['problem.type', { keys: ['fireworks'], problem: { type: 'not a uri' } }, /option "problem\.type" must be an absolute URI; received a string of 9 characters/],
  ['problem.type number', { keys: ['fireworks'], problem: { type: 7 } }, /option "problem\.type" must be an absolute URI; received 7/],
  ['problem.recognise', { keys: ['fireworks'], problem: { recognise: /401/ } }, /option "problem\.recognise" must be a function; received an object/],
  ['problem.unavailable', { keys: ['fireworks'], problem: { unavailable: 'yes' } }, /option "problem\.unavailable" must be a boolean; received "yes"/],
  ['onChange', { keys: ['fireworks'], onChange: 'log' }, /option "onChange" must be a function; received "log"/]
]

test('options: every invalid option is an FST_KEYGUARD_OPTIONS TypeError at register, naming the option and what was expected', async (t) => {
  for (const [title, options, message] of INVALID) {
    await t.test(title, async (t) => {
      const err = await register(options)
      t.equal(err.code, 'FST_KEYGUARD_OPTIONS')
      t.type(err, TypeError)
      t.type(err, FST_KEYGUARD_OPTIONS)
      t.match(err.message, /^Invalid fastify-keyguard options: /)
      t.match(err.message, message)
    })
  }
})

test('options: a string that looks like a key is never echoed', async (t) => {
  const keyLike = [
    KEY, 'fw_abcdefghijklmnop', 'fpk_abcdefgh', 'sk-proj-abc', 'sk-abcdefghijklmnop', 'gsk_abcdef', 'hf_abcdefgh', 'xai-abcdef', 'ghp_abcdefgh',
    'AIzaSyabcdefgh', 'abcDEF123ghiJKL456mno', SECRET
  ]
  for (const value of keyLike) {
    for (const options of [{ keys: [value] }, keySpec({ provider: value }), keySpec({ name: value + ' ' }), keySpec({ env: value + '!' }), { keys: ['fireworks'], onInvalid: value }, { keys: ['fireworks'], health: { live: value } }]) {
      const err = await register(options)
      t.equal(err.code, 'FST_KEYGUARD_OPTIONS')
      t.notOk(err.message.includes(value), 'the value is described, not quoted')
      t.match(err.message, /a string of \d+ characters/)
    }
    for (const options of [{ keys: ['fireworks'], [value]: true }, keySpec({ [value]: true }), { keys: ['fireworks'], probe: { [value]: 1 } }, { keys: ['fireworks'], health: { [value]: 1 } }, { keys: ['fireworks'], problem: { [value]: 1 } }]) {
      const err = await register(options)
      t.match(err.message, /unknown (option|field) a string of \d+ characters/, 'a key pasted as a field name is not echoed either')
      t.notOk(err.message.includes(value))
    }
  }
  // A key pasted where the .env path goes (dotenv: process.env.FIREWORKS_API_KEY) is not a file: not echoed.
  for (const value of [KEY, SECRET]) {
    const err = await register({ keys: ['fireworks'], dotenv: value })
    t.match(err.message, /option "dotenv": \[a value that looks like a key, \d+ characters\] does not exist/)
    t.notOk(err.message.includes(value), 'a key in the dotenv slot is not echoed')
  }
  t.match(await register({ keys: ['openAI'] }), { message: /keys\[0\] is "openAI", which is not a known provider/ }, 'a mistyped provider id is quoted')
})

test('options: a non-object options value is refused', async (t) => {
  for (const [options, shown] of [[null, 'null'], ['fireworks', '"fireworks"'], [['fireworks'], 'an array'], [7n, 'a bigint']] as const) {
    t.throws(() => resolveOptions(options, {}), { code: 'FST_KEYGUARD_OPTIONS', message: `Invalid fastify-keyguard options: options must be an object; received ${shown}` })
  }
})

test('faults #16: base URL problems are FST_KEYGUARD_OPTIONS at register, and the message never holds the credential', async (t) => {
  const expected = /option "keys\[0\]\.baseUrl" must be an https:\/\/ URL \(http:\/\/ only for loopback hosts\) without credentials, query or fragment/
  const cases: Array<[string, string, RegExp]> = [
    ['cleartext to a remote host', 'http://api.fireworks.ai', /received a http: URL for host api\.fireworks\.ai, which would send the key in clear text/],
    ['cleartext to a look-alike of loopback', 'http://127.0.0.1.nip.io', /host 127\.0\.0\.1\.nip\.io/],
    ['cleartext to localhost.evil', 'http://localhost.evil.example', /host localhost\.evil\.example/],
    ['userinfo with the key', `https://user:${SECRET}@api.fireworks.ai`, /it holds credentials \(user:password@\), which would leak into logs and be dropped by HTTP clients/],
    ['userinfo on loopback', `http://${SECRET}@127.0.0.1:8080`, /it holds credentials/],
    ['key in the query string', `https://api.fireworks.ai/v1?key=${SECRET}`, /it has a query or a fragment/],
    ['fragment', `https://api.fireworks.ai/#${SECRET}`, /it has a query or a fragment/],
    ['not a URL', `fw_${SECRET}`, /received a string that is not a URL/],
    ['another scheme', 'ftp://files.example.com', /received a ftp: URL/],
    ['not a string', '', /received a string that is not a URL/]
  ]
  for (const [title, baseUrl, message] of cases) {
    await t.test(title, async (t) => {
      const err = await register(keySpec({ baseUrl }))
      t.equal(err.code, 'FST_KEYGUARD_OPTIONS')
      t.type(err, TypeError)
      t.match(err.message, expected)
      t.match(err.message, message)
      t.notOk(err.message.includes(SECRET), 'the credential is not in the message')
    })
  }
  t.throws(() => checkBaseUrl(8080, 'baseUrl'), { code: 'FST_KEYGUARD_OPTIONS', message: /"baseUrl" must be an https:\/\/ URL .*; received 8080/ })
})

test('faults #16: valid base URLs are normalised: https anywhere, http for loopback only, no trailing slash', async (t) => {
  const cases: Array<[string, string]> = [
    ['https://api.fireworks.ai', 'https://api.fireworks.ai'],
    ['https://api.fireworks.ai/', 'https://api.fireworks.ai'],
    ['https://gw.example.com/fireworks//', 'https://gw.example.com/fireworks'],
    ['https://gw.example.com:8443/a/b', 'https://gw.example.com:8443/a/b'],
    ['HTTPS://API.Fireworks.AI/', 'https://api.fireworks.ai'],
    ['http://localhost:8080/', 'http://localhost:8080'],
    ['http://127.0.0.1:9', 'http://127.0.0.1:9'],
    ['http://127.1.2.3', 'http://127.1.2.3'],
    ['http://[::1]:3000/v', 'http://[::1]:3000/v'],
    ['https://api.fireworks.ai/?', 'https://api.fireworks.ai']
  ]
  for (const [input, output] of cases) t.equal(checkBaseUrl(input, 'baseUrl'), output, input)
})

test('options: DEFAULTS are frozen and are what an option left out resolves to', async (t) => {
  t.same(DEFAULTS, {
    onInvalid: 'refuse',
    onUnreachable: 'warn',
    dotenv: false,
    probe: { timeout: 5000, retries: 2, interval: 600000, jitter: 0.2 },
    health: { live: '/livez', ready: '/readyz', details: 'verbose', hide: false },
    fleet: false,
    problem: { status: 502, type: PROBLEM_TYPES.upstreamUnauthorized, unavailable: false }
  })
  t.ok(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.probe) && Object.isFrozen(DEFAULTS.health) && Object.isFrozen(DEFAULTS.problem))
  const env = { FIREWORKS_API_KEY: KEY }
  const resolved = resolveOptions({ keys: ['fireworks'] }, env)
  t.same(resolved, {
    keys: [{ name: 'fireworks', provider: providers.fireworks, env: 'FIREWORKS_API_KEY', baseUrl: 'https://api.fireworks.ai', required: true, probe: true }],
    onInvalid: 'refuse',
    onUnreachable: 'warn',
    env,
    dotenv: false,
    probe: DEFAULTS.probe,
    health: DEFAULTS.health,
    fleet: false,
    problem: DEFAULTS.problem
  })
  t.equal(resolved.env, env, 'the process environment by default')
  t.not(resolved.probe, DEFAULTS.probe, 'a copy: DEFAULTS are never handed out')
  t.same(resolveOptions({ keys: ['fireworks'], probe: {}, health: {}, problem: {} }, env), resolved, 'empty objects take every default')
})

test('options: valid forms resolve as documented', async (t) => {
  const dispatcher = new Agent()
  t.teardown(() => dispatcher.close())
  const onChange = () => {}
  const classify = () => undefined
  const acmeFull: ProviderSpec = {
    ...acme,
    auth: { header: 'x-api-key' },
    probe: { path: '/v1/check', method: 'POST', body: {} },
    valid: () => true,
    classify,
    key: { pattern: /^acme_[a-z]{20}$/, prefixes: ['acme_'], minLength: 25, maxLength: 25 }
  }
  const resolved = resolveOptions({
    keys: [
      'openai',
      { name: 'fireworks-eu', provider: 'fireworks', env: 'FIREWORKS_EU_KEY', value: KEY, baseUrl: 'https://gw.example.com/fireworks/', required: false, probe: false },
      { name: 'gemini' },
      { provider: acmeFull },
      { name: 'acme-2', provider: { ...acme, key: {} } }
    ],
    onInvalid: 'degrade',
    onUnreachable: 'refuse',
    env: { FIREWORKS_EU_KEY: undefined },
    dotenv: true,
    probe: { timeout: 1, retries: 0, interval: 0, jitter: 0, dispatcher },
    health: { live: false, ready: '/ready/v1', details: false },
    problem: { status: 503, type: 'urn:example:upstream' },
    onChange
  }, {})
  t.match(resolved.keys, [
    { name: 'openai', env: 'OPENAI_API_KEY', baseUrl: 'https://api.openai.com', required: true, probe: true },
    { name: 'fireworks-eu', env: 'FIREWORKS_EU_KEY', value: KEY, baseUrl: 'https://gw.example.com/fireworks', required: false, probe: false },
    { name: 'gemini', env: 'GEMINI_API_KEY' },
    { name: 'acme', provider: acmeFull, env: 'ACME_API_KEY', baseUrl: 'https://api.acme.example' },
    { name: 'acme-2' }
  ])
  t.notOk('value' in (resolved.keys[0] as object), 'no value unless one is given')
  t.match(resolved, { onInvalid: 'degrade', onUnreachable: 'refuse', dotenv: '.env', health: { live: false, ready: '/ready/v1', details: false }, problem: { status: 503, type: 'urn:example:upstream' } })
  t.same(resolved.probe, { timeout: 1, retries: 0, interval: 0, jitter: 0, dispatcher })
  const recognise = () => false
  t.same(resolveOptions({ keys: ['fireworks'], problem: { recognise } }, {}).problem, { status: 502, type: PROBLEM_TYPES.upstreamUnauthorized, unavailable: false, recognise })
  t.same(resolveOptions({ keys: ['fireworks'], problem: { unavailable: true } }, {}).problem, { status: 502, type: PROBLEM_TYPES.upstreamUnauthorized, unavailable: true })
  t.equal(resolved.onChange, onChange)
  const local = join(t.testdir({ '.env.local': '' }), '.env.local')
  t.same(resolveOptions({ keys: ['fireworks'], dotenv: local, probe: false, health: false, problem: false }, {}), {
    keys: resolveOptions({ keys: ['fireworks'] }, {}).keys, onInvalid: 'refuse', onUnreachable: 'warn', env: {}, dotenv: local, probe: false, health: false, fleet: false, problem: false
  })
  t.equal(resolveOptions({ keys: ['fireworks'], dotenv: false }, {}).dotenv, false)
  t.same(resolveOptions({ keys: ['fireworks'], health: { ready: false } }, {}).health, { live: '/livez', ready: false, details: 'verbose', hide: false }, 'one route off')
  t.same(resolveOptions({ keys: ['fireworks'], health: { live: false, ready: false } }, {}).health, { live: false, ready: false, details: 'verbose', hide: false }, 'both routes off')
})

test('options: a valid registration boots with a real Fastify instance', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(keyguard, { keys: [{ provider: 'fireworks', value: KEY, probe: false }], health: false })
  await app.ready()
  t.equal(app.keyguard.key('fireworks'), KEY)
  t.match(app.keyguard.report(), { status: 'pass', checks: { fireworks: { cause: 'unchecked', reason: 'probe-disabled' } } })
})

// Issue 13: one table of options. The types' JSDoc and the README are written by hand; these tests hold them to it.
const GROUP_OF = Object.fromEntries(GROUPS.map((group) => [group.type, group]))

test('options table: each option type lists the table\'s fields, and each @default is the table\'s default', async (t) => {
  const file = new URL('../lib/core/options.ts', import.meta.url)
  const source = ts.createSourceFile('options.ts', readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const seen: string[] = []
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || GROUP_OF[node.name.text] === undefined) return
    const group = GROUP_OF[node.name.text] as Group
    seen.push(group.type)
    const members = node.members.filter(ts.isPropertySignature)
    t.same(members.map((m) => m.name.getText(source)), Object.keys(group.fields), `${group.type}: the table's fields`)
    for (const member of members) {
      const name = member.name.getText(source)
      const tag = ts.getJSDocTags(member).find((tag) => tag.tagName.text === 'default')
      const text = tag === undefined ? undefined : ts.getTextOfJSDocComment(tag.comment)?.replace(/\s+/g, ' ').trim()
      t.equal(text, jsdocDefault(group.fields[name] as Field), `${group.type}.${name}: @default`)
    }
  })
  t.same(seen.sort(), GROUPS.map((group) => group.type).sort(), 'every group has its type')
})

/** The README's Options tables: heading (the group's type) → rows of [name, type, default]. */
function readmeTables (): Map<string, string[][]> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('\n## Options\n')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  const tables = new Map<string, string[][]>()
  let heading = 'FastifyKeyguardOptions'
  for (const line of section.split('\n')) {
    const h = /^### (\w+)$/.exec(line)
    if (h !== null) heading = h[1] as string
    if (!line.startsWith('| `')) continue
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim())
    tables.set(heading, [...(tables.get(heading) ?? []), [(cells[0] as string).replace(/`/g, ''), cells[1] as string, cells[2] as string]])
  }
  return tables
}

test('options table: the README\'s Options tables have the table\'s fields, types and defaults', async (t) => {
  const tables = readmeTables()
  t.same([...tables.keys()].sort(), GROUPS.map((group) => group.type).sort())
  for (const group of GROUPS) {
    const expected = Object.entries(group.fields).map(([name, field]) => [name, field.type, readmeDefault(field)])
    t.same(tables.get(group.type), expected, group.type)
  }
})

test('options table: DEFAULTS is derived from it, frozen at every level', async (t) => {
  for (const group of [OPTIONS, ...GROUPS.filter((g) => g !== OPTIONS && g !== KEY_SPEC)]) {
    for (const [name, field] of Object.entries(group.fields)) {
      const defaults = group === OPTIONS ? DEFAULTS : DEFAULTS[group.type.replace('Options', '').toLowerCase() as 'probe']
      if (field.default !== undefined && 'value' in field.default) t.same((defaults as Record<string, unknown>)[name], field.default.value, name)
      else t.notOk(Object.hasOwn(defaults, name), `${name}: no value default`)
    }
  }
})

test('options: errors are structured: err.option names the option, err.expected what it must be', async (t) => {
  const cases: Array<[unknown, string, string]> = [
    [{ keys: ['fireworks'], probe: { timeout: 0 } }, 'probe.timeout', 'an integer from 1 to 600000 (milliseconds)'],
    [{ keys: ['fireworks'], health: { details: 'no' } }, 'health.details', "'verbose', 'always' or false"],
    [{ keys: ['fireworks'], problem: { status: 401 } }, 'problem.status', 'an integer from 500 to 599 (a server error: the upstream rejected our credentials, not the client)'],
    [{ keys: [{ provider: 'fireworks', baseUrl: 'http://x.example' }] }, 'keys[0].baseUrl', 'an https:// URL (http:// only for loopback hosts) without credentials, query or fragment'],
    [{ keys: [{ provider: 'azure-openai' }] }, 'keys[0].baseUrl', providers['azure-openai'].requiresBaseUrl as string],
    [{ keys: ['fireworks'], onInvalid: 'x' }, 'onInvalid', "one of 'refuse', 'degrade'"],
    [{ keys: ['fireworks'], probe: { [KEY]: 1 } }, 'probe', 'an object of timeout, retries, interval, jitter, dispatcher'],
    [{ keys: [] }, 'keys', 'a non-empty array of provider ids or KeySpec objects'],
    [7, 'options', 'an object']
  ]
  for (const [options, option, expected] of cases) {
    const err = (() => { try { resolveOptions(options, {}) } catch (err) { return err } })() as OptionsError
    t.ok(isOptionsError(err), option)
    t.match(err, { code: 'FST_KEYGUARD_OPTIONS', option, expected }, option)
    t.ok(err.message.includes(expected.replace(/^an object of /, 'expected ')), `${option}: the message says it too`)
  }
  t.notOk(isOptionsError(new FST_KEYGUARD_OPTIONS('x')), 'an error without the fields is not one')
  // Whatever lands where a field name or an enum value goes, no field of the error holds it.
  fc.assert(fc.property(fc.string({ minLength: 16, maxLength: 60 }), fc.constantFrom('probe', 'health', 'problem'), (junk, group) => {
    const value = 'sk_' + junk
    for (const options of [{ keys: ['fireworks'], [group]: { [value]: 1 } }, { keys: ['fireworks'], onUnreachable: value }]) {
      const err = (() => { try { resolveOptions(options, {}) } catch (err) { return err } })() as OptionsError
      if (!isOptionsError(err)) return false
      if ([err.message, err.option, err.expected, err.found ?? ''].some((text) => text.includes(value))) return false
    }
    return true
  }), { numRuns: 200 })
})
