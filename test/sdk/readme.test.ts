import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { providers } from '../../lib/providers/index.js'
import { matrixRows } from '../helpers/sdk.js'

/** The README's SDK table says exactly what the matrix (matrix.test.ts) runs, with the installed versions. */
test('README: the SDK table is the matrix', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = /<!-- sdk-matrix:start -->\n([\s\S]*?)<!-- sdk-matrix:end -->/.exec(readme)?.[1]
  t.ok(section, 'the README has the SDK table')
  const rows = (section ?? '').split('\n').filter((line) => line.startsWith('| ')).slice(1)
  t.same(rows, matrixRows((id) => providers[id].label), 'one row per matrix row, in order: package, version, answer, both ways')
})
