// scripts/build.ts leaves the sources' comment lines out of the bundle, and nothing else.
import { test } from 'tap'
import { dropLineComments } from '../scripts/comments.js'

test('dropLineComments: whole-line // comments go; strings, templates, regexps, trailing and block comments stay', (t) => {
  // [line, kept]
  const lines: Array<[string, boolean]> = [
    ['// a comment line', false],
    ['const a = 1 // after code: stays', true],
    ['  // indented comment', false],
    ["const s = '// not a comment'", true],
    ['const tpl = `first', true],
    ['// inside a template', true],
    ['$' + '{a}', true],
    ['  // inside a template middle', true],
    ['`', true],
    ['const re = /\\/\\/ x/', true],
    ['/* a block', true],
    ['// inside a block, with its end */', true],
    ['const b = 2', true]
  ]
  const out = dropLineComments(lines.map(([line]) => line).join('\n'))
  t.same(out.split('\n'), lines.filter(([, kept]) => kept).map(([line]) => line))
  t.equal(dropLineComments('// only'), '')
  t.equal(dropLineComments('x\n'), 'x\n', 'a final newline stays')
  t.end()
})
