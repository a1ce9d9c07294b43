// scripts/build.ts leaves the sources' comment lines out of the bundle, and nothing else.
import { test } from 'tap'
import { dropLineComments } from '../scripts/comments.js'

test('dropLineComments: whole-line // comments go; strings, templates, regexps, trailing and block comments stay', (t) => {
  const text = [
    '// a comment line',
    'const a = 1 // after code: stays',
    '  // indented comment',
    "const s = '// not a comment'",
    'const tpl = `first',
    '// inside a template',
    '$' + '{a}',
    '  // inside a template middle',
    '`',
    'const re = /\\/\\/ x/',
    '/* a block',
    '// inside a block, with its end */',
    'const b = 2'
  ].join('\n')
  const out = dropLineComments(text)
  t.same(out.split('\n'), [
    'const a = 1 // after code: stays',
    "const s = '// not a comment'",
    'const tpl = `first',
    '// inside a template',
    '$' + '{a}',
    '  // inside a template middle',
    '`',
    'const re = /\\/\\/ x/',
    '/* a block',
    '// inside a block, with its end */',
    'const b = 2'
  ])
  t.equal(dropLineComments('// only'), '')
  t.equal(dropLineComments('x\n'), 'x\n', 'a final newline stays')
  t.end()
})
