import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { SYNTHETIC_KEYS } from '../examples/stand-in.js'
import { leaks } from './helpers/leak.js'

// `npm run demo` is the README's first command: it must run on a fresh checkout with nothing set,
// exit 0 by itself, show the problem documents, and never print a key.

const root = fileURLToPath(new URL('..', import.meta.url))
/** The demo takes about 1 s on an idle machine; ten times that under a loaded test run. */
const LIMIT = 10_000

t.test('npm run demo exits 0, shows 503, 502 and problem+json, and prints no key', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.demo, 'node --import tsx examples/demo.ts', 'the script runs the demo through tsx')
  const [, ...args] = (pkg.scripts.demo as string).split(' ')

  const child = spawn(process.execPath, args, {
    cwd: root,
    // Nothing of this process's environment: no key, no proxy, no colours.
    // No coverage from the child: tsx maps lib/*.ts onto other ranges than tap's loader, corrupting the merge.
    env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const started = performance.now()
  // The kill is only a safety net, well past the limit: a demo slower than LIMIT still exits, and the
  // time assertion below fails with the time it took (a timer that rejected at LIMIT would fail first).
  const killer = setTimeout(() => child.kill('SIGKILL'), 2 * LIMIT)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
  clearTimeout(killer)
  const took = performance.now() - started
  t.equal(code, 0, 'exits 0 by itself')
  t.ok(took < LIMIT, `within ${LIMIT} ms: took ${Math.round(took)} ms`)
  t.match(output, /← 503 /, 'a 503 exchange')
  t.match(output, /← 502 /, 'a 502 exchange')
  t.match(output, 'content-type: application/problem+json')
  t.match(output, 'retry-after: ')
  t.match(output, 'FST_KEYGUARD_BOOT_REFUSED')
  t.match(output, 'zero-width space (U+200B), at position 17')
  t.match(output, 'the stand-in received 0 requests')
  t.match(output, '127.0.0.1')
  // Issue 16 #11: the causes users hit most, one scene each, told by keyguard's own line with the fix.
  t.match(output, /\[error\] fastify-keyguard: FIREWORKS_API_KEY is not set\. Found FIREWORKS_KEY in the environment — did you mean it\? Fix: Set FIREWORKS_API_KEY/, 'a misnamed variable, with the near name')
  t.match(output, /\[error\] fastify-keyguard: FIREWORKS_API_KEY is wrapped in quotes.* Fix: Remove the quotes\. docker run --env-file/, 'quotes kept by docker run --env-file')
  t.match(output, /\[warn\] fastify-keyguard: Fireworks AI accepted FIREWORKS_API_KEY_FILE .* Note: Removed a trailing line break/, 'a trailing newline, removed, with a note')
  t.match(output, /\[error\] fastify-keyguard: FIREWORKS_API_KEY starts with an auth scheme \("Bearer "\).* Fix: Remove the "Bearer " prefix/, 'a Bearer prefix')
  t.equal(output.split('ready() rejected with FST_KEYGUARD_BOOT_REFUSED; 0 requests reached the stand-in').length - 1, 3, 'three refused offline, never sent')
  t.notMatch(output, /demo expectation failed|Error:/, 'no failed expectation')
  for (const [name, key] of Object.entries(SYNTHETIC_KEYS)) {
    t.same(leaks(output, key), [], `no piece of the ${name} key`)
  }
})
