import ts from 'typescript'

/**
 * The sources' line comments, left out of the bundle: esbuild keeps those before a statement or a property
 * (the providers' `// source:` notes alone were 10 kB), and they are for whoever reads the sources. A line
 * is cut when it holds nothing but a `//` comment; TypeScript's parser gives the string, template and
 * regular expression literals, so that a `//` inside one is never taken for a comment.
 */
export function dropLineComments (text: string, file = 'x.ts'): string {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const literals: Array<[number, number]> = []
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isRegularExpressionLiteral(node) || ts.isTemplateLiteralToken(node)) {
      literals.push([node.getStart(source), node.end])
    }
    node.forEachChild(visit)
  }
  visit(source)
  const inLiteral = (at: number): boolean => literals.some(([from, to]) => at > from && at < to)
  let out = ''
  let at = 0
  for (const line of text.split('\n')) {
    const code = line.trimStart()
    const keep = !code.startsWith('//') || code.includes('*/') || inLiteral(at + line.length - code.length)
    if (keep) out += line + '\n'
    at += line.length + 1
  }
  return out.slice(0, -1)
}
