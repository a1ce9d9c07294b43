import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default [
  ...neostandard({
    ignores: resolveIgnoresFromGitignore(),
    ts: true
  }),
  {
    // House rule: lines of the library within 120 characters (tests hold long provider answers verbatim).
    files: ['index.ts', 'lib/**/*.ts'],
    rules: {
      '@stylistic/max-len': ['error', {
        code: 120, ignoreUrls: false, ignoreStrings: false, ignoreTemplateLiterals: false, ignoreRegExpLiterals: false
      }]
    }
  }
]
