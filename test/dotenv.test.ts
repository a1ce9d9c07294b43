// The .env overlay is read once for checks that ask together (a boot asks once per key), and afresh
// for a check that asks after a read has finished (so a rotated key heals).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { envLoader } from '../lib/core/dotenv.js'

test('checks asking together share one read of the .env file; a later check reads it again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyguard-dotenv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, '.env')
  writeFileSync(path, 'K1=first\n')
  const names = Array.from({ length: 20 }, (_, i) => `K${i + 1}`)
  const load = envLoader({ OTHER: 'x' }, path, names)
  const together = names.map(() => load())
  t.ok(together.every((read) => read === together[0]), '20 checks at once: one read')
  const envs = await Promise.all(together)
  t.equal(envs[0]?.K1, 'first')
  t.equal(envs[0]?.OTHER, 'x', 'the env option is kept under the file')
  writeFileSync(path, 'K1=second\n')
  const later = load()
  t.not(later, together[0], 'a check after the read has finished gets a read of its own')
  t.equal((await later).K1, 'second', 'so a key rotated in the file is seen')
  rmSync(path)
  mkdirSync(path)
  const failing = [load(), load()]
  t.equal(failing[0], failing[1])
  await t.rejects(failing[0] as Promise<unknown>, 'a failed read rejects the checks that shared it')
  rmSync(path, { recursive: true })
  writeFileSync(path, 'K1=third\n')
  t.equal((await load()).K1, 'third', 'and does not stick: the next check reads again')
})

test('without dotenv, the env option is the environment, as it is', async (t) => {
  const env = { K1: 'v' }
  t.equal(await envLoader(env, false, ['K1'])(), env)
})
