// The layout is the architecture: a file's folder says what it may import (issue 13).
import { test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import ts from 'typescript'

const ROOT = join(import.meta.dirname, '..')
const LIB = join(ROOT, 'lib')

/** What each folder of lib/ may import: other folders of lib/, and packages. */
const RULES: Record<string, { folders: string[], packages: RegExp }> = {
  // The framework-free core: no Fastify, no upstream client code, no CLI.
  core: { folders: ['core', 'providers'], packages: /^(?:node:.*|@fastify\/error|@opentelemetry\/api|env-schema|undici)$/ },
  providers: { folders: ['providers'], packages: /^$/ },
  // The upstream client side: undici and the core, never Fastify.
  upstream: { folders: ['upstream', 'core', 'providers'], packages: /^(?:node:.*|undici)$/ },
  fastify: { folders: ['fastify', 'upstream', 'core', 'providers'], packages: /^(?:node:.*|fastify|fastify-plugin|@fastify\/fast-json-stringify-compiler|undici)$/ },
  cli: { folders: ['cli', 'core', 'providers'], packages: /^node:.*$/ }
}

function files (dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))
}

/** Every module specifier a file imports or re-exports, type-only ones included. */
function specifiers (file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out: string[] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0] as ts.Node)) {
      out.push((node.arguments[0] as ts.StringLiteral).text)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

/** The lib/ folder a file belongs to. */
const folderOf = (file: string): string => relative(LIB, file).split('/')[0] as string

/** The rule breaches of one file. */
export function breaches (file: string): string[] {
  const rule = RULES[folderOf(file)]
  if (rule === undefined) return [`${relative(ROOT, file)} is in no known folder of lib/`]
  return specifiers(file).flatMap((spec) => {
    if (spec.startsWith('.')) {
      const target = normalize(join(dirname(file), spec))
      if (!target.startsWith(LIB + '/')) return [`${relative(ROOT, file)} imports ${spec}, outside lib/`]
      return rule.folders.includes(folderOf(target)) ? [] : [`${relative(ROOT, file)} (${folderOf(file)}) imports ${spec} (${folderOf(target)})`]
    }
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] as string
    return rule.packages.test(pkg) ? [] : [`${relative(ROOT, file)} (${folderOf(file)}) imports the package ${pkg}`]
  })
}

test('every lib/ file imports only what its folder allows', async (t) => {
  const found = files(LIB).flatMap(breaches)
  t.same(found, [])
})

test('lib/ has only the folders of the architecture, and index.ts imports from them only', async (t) => {
  const top = readdirSync(LIB, { withFileTypes: true })
  t.same(top.filter((entry) => !entry.isDirectory()).map((entry) => entry.name), [], 'no loose files in lib/')
  t.same(top.map((entry) => entry.name).sort(), Object.keys(RULES).sort())
  t.ok(specifiers(join(ROOT, 'index.ts')).every((spec) => spec.startsWith('./lib/')), 'index.ts re-exports lib/ only')
})

test('the check can fail: a core file importing Fastify, the upstream side or the CLI is a breach', async (t) => {
  const core = join(LIB, 'core', 'probe.ts')
  const breachesOf = (text: string): string[] => {
    const source = ts.createSourceFile(core, text, ts.ScriptTarget.Latest, true)
    const specs: string[] = []
    source.forEachChild((node) => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text)
    })
    return specs.filter((spec) => {
      if (!spec.startsWith('.')) return !(RULES.core as { packages: RegExp }).packages.test(spec)
      return !(RULES.core as { folders: string[] }).folders.includes(folderOf(normalize(join(dirname(core), spec))))
    })
  }
  t.same(breachesOf("import type { FastifyInstance } from 'fastify'"), ['fastify'])
  t.same(breachesOf("import { Upstream } from '../upstream/watch.js'"), ['../upstream/watch.js'])
  t.same(breachesOf("import { main } from '../cli/main.js'"), ['../cli/main.js'])
  t.same(breachesOf("import { inspect } from './inspect.js'"), [])
})
