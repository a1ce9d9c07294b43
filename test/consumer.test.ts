// The package as users receive it (issue 16.1, and the house standard "a consumer type check of the packed
// package"): `npm pack`, unpacked into a fresh application's node_modules, compiled under every TypeScript
// resolution with skipLibCheck off, and run from ESM and from CommonJS.
import t, { test } from 'tap'
import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Packing, unpacking and three compilations take 15–20 s alone; more on a loaded machine.
t.setTimeout(300_000)

const ROOT = join(import.meta.dirname, '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/** A fresh application folder with the packed package installed (its dependencies linked from this checkout). */
function install (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyguard-consumer-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // dist/ is built by `npm test` before the tests run; --ignore-scripts packs it as it is.
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']
  })) as Array<{ filename: string }>
  const modules = join(dir, 'node_modules')
  mkdirSync(join(modules, 'fastify-keyguard'), { recursive: true })
  execFileSync('tar', ['-xzf', join(dir, (packed as { filename: string }).filename), '-C', join(modules, 'fastify-keyguard'), '--strip-components=1'])
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === '.bin' || entry === '.package-lock.json' || entry === 'fastify-keyguard') continue
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry))
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  cpSync(join(ROOT, 'test', 'fixtures', 'consumer', 'app.ts'), join(dir, 'app.ts'))
  return dir
}

const RESOLUTIONS: Record<string, Record<string, string>> = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  node16: { module: 'node16', moduleResolution: 'node16' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' }
}

test('the packed package type-checks under nodenext, node16 and bundler resolution with skipLibCheck off', async (t) => {
  const dir = install(t)
  for (const [name, resolution] of Object.entries(RESOLUTIONS)) {
    const config = join(dir, `tsconfig.${name}.json`)
    writeFileSync(config, JSON.stringify({
      compilerOptions: { ...resolution, target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
      files: ['app.ts']
    }))
    let output = ''
    try {
      execFileSync(process.execPath, [TSC, '-p', config], { cwd: dir, encoding: 'utf8' })
    } catch (err) {
      output = String((err as { stdout?: string }).stdout)
    }
    t.equal(output, '', `${name}: no type error`)
  }
})

test('the packed package runs from ESM (import) and from CommonJS (require)', async (t) => {
  const dir = install(t)
  const use = (mod: string): string => `
    const app = Fastify()
    await app.register(${mod}, { keys: [{ provider: 'fireworks', value: 'fw_' + 'C'.repeat(32) }], env: {}, probe: false })
    await app.ready()
    const ready = await app.inject('/readyz')
    console.log(JSON.stringify({ status: ready.statusCode, report: app.keyguard.report().status }))
    await app.close()`
  writeFileSync(join(dir, 'esm.mjs'), `import Fastify from 'fastify'\nimport keyguard from 'fastify-keyguard'\n${use('keyguard')}\n`)
  writeFileSync(join(dir, 'cjs.cjs'), 'const Fastify = require(\'fastify\')\nconst kg = require(\'fastify-keyguard\')\n' +
    'if (kg.default !== kg.fastifyKeyguard) throw new Error(\'default and named exports differ\')\n' +
    `;(async () => {${use('kg.default')}\n})().catch((err) => { console.error(err); process.exit(1) })\n`)
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    t.same(JSON.parse(out.trim()), { status: 200, report: 'pass' }, file)
  }
})
