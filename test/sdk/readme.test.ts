import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { providers } from '../../lib/providers/index.js'
import { matrixRows } from '../helpers/sdk.js'

/** The SDK table (docs/usage.md) says exactly what the matrix (matrix.test.ts) runs, with the installed versions. */
test('docs/usage.md: the SDK table is the matrix', async (t) => {
  const readme = readFileSync(new URL('../../docs/usage.md', import.meta.url), 'utf8')
  const section = /<!-- sdk-matrix:start -->\n([\s\S]*?)<!-- sdk-matrix:end -->/.exec(readme)?.[1]
  t.ok(section, 'docs/usage.md has the SDK table')
  const rows = (section ?? '').split('\n').filter((line) => line.startsWith('| ')).slice(1)
  t.same(rows, matrixRows((id) => providers[id].label), 'one row per matrix row, in order: package, version, answer, both ways')
})
