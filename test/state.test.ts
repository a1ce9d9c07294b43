// No module-level mutable state in lib/ (issue 13): state lives in the one holder per app instance, the
// Guard, never in a module that every app in the process shares.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from 'tap'
import ts from 'typescript'

const ROOT = join(import.meta.dirname, '..')
const LIB = join(ROOT, 'lib')

/** Constructors whose instances hold state. Any other `new` at module level is flagged too, but these are named. */
const IMMUTABLE_NEW = new Set(['RegExp'])
/** Calls that return a fresh, mutable array or object. */
const FRESH = /^(?:Object\.(?:keys|values|entries|fromEntries|assign)|Array\.(?:from|of)|.*\.(?:map|filter|flatMap|flat|slice|concat|split|sort|toSorted|toReversed))$/

/** `x as T`, `x satisfies T`, `(x)` and `x!` are `x`. */
function unwrap (node: ts.Expression): ts.Expression {
  while (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node) ||
    ts.isNonNullExpression(node) || ts.isTypeAssertionExpression(node)) node = node.expression
  return node
}

/** Why a module-level initialiser is mutable state, or `undefined` when it is not. */
function mutable (init: ts.Expression, source: ts.SourceFile): string | undefined {
  const node = unwrap(init)
  if (ts.isArrayLiteralExpression(node)) return 'an array literal not wrapped in Object.freeze'
  if (ts.isObjectLiteralExpression(node)) return 'an object literal not wrapped in Object.freeze'
  if (ts.isNewExpression(node)) {
    const name = node.expression.getText(source)
    return IMMUTABLE_NEW.has(name) ? undefined : `new ${name}`
  }
  if (ts.isRegularExpressionLiteral(node) && /\/[a-z]*[gy][a-z]*$/.test(node.text)) {
    return 'a global or sticky regular expression (its lastIndex is state)'
  }
  if (ts.isCallExpression(node)) {
    const callee = node.expression.getText(source).replace(/\s+/g, '')
    if (callee === 'Object.freeze') return undefined
    // Named by the last call of a chain: `Object.values(x).map(f).filter(g)` is a fresh `.filter()` result.
    const last = ts.isPropertyAccessExpression(node.expression) && !ts.isIdentifier(node.expression.expression)
      ? `….${node.expression.name.text}`
      : callee
    if (FRESH.test(callee)) return `a fresh ${last}() result not wrapped in Object.freeze`
  }
  return undefined
}

/** The module-level mutable state of one file's text, as `file name: why`. */
export function breaches (file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const out: string[] = []
  const at = (name: string, why: string): void => { out.push(`${relative(ROOT, file)} ${name}: ${why}`) }
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      const flags = statement.declarationList.flags
      const kind = flags & ts.NodeFlags.Let ? 'let' : flags & ts.NodeFlags.Const ? 'const' : 'var'
      for (const declaration of statement.declarationList.declarations) {
        const name = declaration.name.getText(source)
        if (kind !== 'const') at(name, `a module-level ${kind}`)
        else if (declaration.initializer !== undefined) {
          const why = mutable(declaration.initializer, source)
          if (why !== undefined) at(name, why)
        }
      }
    } else if (ts.isClassDeclaration(statement)) {
      for (const member of statement.members) {
        if (!ts.isPropertyDeclaration(member)) continue
        const has = (kind: ts.SyntaxKind): boolean => ts.getModifiers(member)?.some((m) => m.kind === kind) === true
        if (!has(ts.SyntaxKind.StaticKeyword)) continue
        const readonly = has(ts.SyntaxKind.ReadonlyKeyword)
        const name = `${statement.name?.text ?? 'class'}.${member.name.getText(source)}`
        const why = !readonly ? 'a static field that is not readonly' : member.initializer && mutable(member.initializer, source)
        if (why) at(name, why)
      }
    } else if (ts.isExportAssignment(statement)) {
      const why = mutable(statement.expression, source)
      if (why !== undefined) at('default', why)
    }
  }
  return out
}

function files (dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))
}

test('no module-level mutable state in lib/', async (t) => {
  const found = files(LIB).sort().flatMap((file) => breaches(file, readFileSync(file, 'utf8')))
  t.same(found, [])
})

test('the check can fail: each kind of module-level state is found, and immutable constants pass', async (t) => {
  const check = (text: string): string[] => breaches(join(LIB, 'core', 'x.ts'), text).map((line) => line.slice('lib/core/x.ts '.length))
  t.same(check('let loaded: unknown'), ['loaded: a module-level let'])
  t.same(check('var n = 0'), ['n: a module-level var'])
  t.same(check('export let n = 0, m = 1'), ['n: a module-level let', 'm: a module-level let'])
  t.same(check('const cache = new Map<string, number>()'), ['cache: new Map'])
  for (const kind of ['Set', 'WeakMap', 'WeakSet', 'Array', 'SecretForms', 'AbortController']) {
    t.same(check(`const s = new ${kind}()`), [`s: new ${kind}`])
  }
  t.same(check('const A = [1, 2]'), ['A: an array literal not wrapped in Object.freeze'])
  t.same(check('const A: readonly string[] = [\'a\'] as const'), ['A: an array literal not wrapped in Object.freeze'])
  t.same(check('export const O: Record<string, number> = { a: 1 }'), ['O: an object literal not wrapped in Object.freeze'])
  t.same(check('const O = ({ a: 1 } satisfies object)'), ['O: an object literal not wrapped in Object.freeze'])
  t.same(check('const K = Object.keys(x)'), ['K: a fresh Object.keys() result not wrapped in Object.freeze'])
  t.same(check('const K = Object.values(x).flatMap(f)'), ['K: a fresh ….flatMap() result not wrapped in Object.freeze'])
  t.same(check('const G = /a/g'), ['G: a global or sticky regular expression (its lastIndex is state)'])
  t.same(check('class C { static cache = 1 }'), ['C.cache: a static field that is not readonly'])
  t.same(check('class C { static readonly seen = new Set() }'), ['C.seen: new Set'])
  t.same(check('export default { a: 1 }'), ['default: an object literal not wrapped in Object.freeze'])
  t.same(check([
    'const A = Object.freeze([1, 2])',
    'const O = Object.freeze({ a: 1 })',
    'const N = 16 * 1024',
    'const S = \'text\'',
    'const R = /^a$/i',
    'const RR = new RegExp(\'a\')',
    'const F = (x: number): number => x',
    'const Y = Symbol(\'y\')',
    'const load = createRequire(import.meta.url)',
    'class D { static readonly n = 1; count = 0; readonly m = new Map() }',
    'function f () { let x = []; return x }'
  ].join('\n')), [], 'immutable constants, functions and instance fields pass')
})
