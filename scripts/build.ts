// `npm run build`: dist/ as the package ships it, each piece once.
//
// - JavaScript: esbuild bundles the plugin (dist/index.js) and the CLI (dist/cli.js) from the TypeScript
//   sources, with the code they share in one chunk (dist/shared.js). No source maps: the output is
//   unminified ESM that keeps the sources' names, so a stack trace reads as it is, and a map would weigh
//   more than the code (and only help under --enable-source-maps, which slows every start).
// - Types: tsc writes declarations only, for the files index.ts reaches, and declarations no public type
//   reaches are removed again (test/consumer.test.ts compiles them under every resolution).
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import type { Plugin } from 'esbuild'
import { dropLineComments } from './comments.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')

async function declarations (): Promise<void> {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root })
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string, stderr?: string }
    throw new Error(`build: tsc failed\n${stdout}${stderr}`)
  }
}

const withoutLineComments: Plugin = {
  name: 'without-line-comments',
  setup (on) {
    on.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: dropLineComments(readFileSync(args.path, 'utf8'), args.path), loader: 'ts'
    }))
  }
}

async function javascript (): Promise<void> {
  await build({
    plugins: [withoutLineComments],
    absWorkingDir: root,
    entryPoints: { index: 'index.ts', cli: 'lib/cli/main.ts' },
    outdir: dist,
    chunkNames: 'shared',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning'
  })
}

/** Every .d.ts under `dir`. */
function declarationFiles (dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.d.ts'))
    .map((file) => join(dir, file))
}

/** Removes the declarations that `dist/index.d.ts` does not reach through relative imports. */
function pruneDeclarations (): void {
  const reached = new Set<string>()
  const queue = [join(dist, 'index.d.ts')]
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (reached.has(file)) continue
    reached.add(file)
    const text = readFileSync(file, 'utf8')
    for (const [, spec] of text.matchAll(/(?:from |import\(|import )['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
      const target = resolve(dirname(file), `${spec as string}.d.ts`)
      if (!existsSync(target)) throw new Error(`build: ${relative(root, file)} imports ${spec as string}, not emitted`)
      queue.push(target)
    }
  }
  for (const file of declarationFiles(dist)) if (!reached.has(file)) rmSync(file)
  // Folders left empty by the pruning.
  for (const entry of readdirSync(dist, { recursive: true, encoding: 'utf8' }).sort().reverse()) {
    const path = join(dist, entry)
    if (statSync(path).isDirectory() && readdirSync(path).length === 0) rmSync(path, { recursive: true })
  }
}

const began = performance.now()
rmSync(dist, { recursive: true, force: true })
// Both run to the end: a type error elsewhere still leaves a runnable dist/ for a lone test run.
const [types, code] = await Promise.allSettled([declarations(), javascript()])
for (const step of [code, types]) if (step.status === 'rejected') throw step.reason
pruneDeclarations()
console.log(`build: dist/ in ${((performance.now() - began) / 1000).toFixed(1)} s`)
