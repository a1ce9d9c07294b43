// Issue 11.1: a hostile problem.recognise predicate cannot turn every error into a 502 or crash the process.
import { test } from 'tap'
import { appWith } from '../helpers/app.js'

const KEY = 'fw_' + 'R'.repeat(32)

const PREDICATES: Record<string, (error: unknown) => boolean | string> = {
  'an async predicate (its Promise is truthy)': (async () => true) as unknown as () => boolean,
  'an async predicate that rejects': (async () => { throw new Error(`boom ${KEY}`) }) as unknown as () => boolean,
  'a predicate that throws an error quoting the key': () => { throw new Error(`bad ${KEY}`) },
  'a predicate that throws a non-error': () => { throw 'a string' as unknown as Error }, // eslint-disable-line no-throw-literal
  'a predicate that returns a number': () => 1 as unknown as boolean,
  'a predicate that returns an object': () => ({}) as unknown as boolean
}

test('problem.recognise that is async, throws or answers junk: the application\'s error is left alone', async (t) => {
  const rejections: unknown[] = []
  const onRejection = (reason: unknown): void => { rejections.push(reason) }
  process.on('unhandledRejection', onRejection)
  t.teardown(() => { process.off('unhandledRejection', onRejection) })
  for (const [name, recognise] of Object.entries(PREDICATES)) {
    await t.test(name, async (t) => {
      const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', value: KEY }], env: {}, probe: false, problem: { recognise } })
      t.teardown(() => app.close())
      app.get('/fails', async () => { throw Object.assign(new Error('the app\'s own failure'), { statusCode: 409 }) })
      await app.ready()
      const res = await app.inject('/fails')
      t.equal(res.statusCode, 409, 'the application\'s own status')
      t.notMatch(res.headers['content-type'], /problem/, 'not converted')
      t.notMatch(logs.text(), /RRRRRRRR/, 'no key in the logs')
      await new Promise((resolve) => setImmediate(resolve))
    })
  }
  t.same(rejections, [], 'no unhandled rejection')
})

test('an async predicate is named in one error line per occurrence', async (t) => {
  const { app, logs } = await appWith({
    keys: [{ provider: 'fireworks', value: KEY }], env: {}, probe: false, problem: { recognise: (async () => true) as unknown as () => boolean }
  })
  t.teardown(() => app.close())
  app.get('/fails', async () => { throw new Error('x') })
  await app.ready()
  await app.inject('/fails')
  const lines = logs.records().filter((line) => /problem\.recognise predicate/.test(String(line.msg)))
  t.equal(lines.length, 1)
  t.match(String(lines[0]?.msg), /returned a Promise/)
})

test('reply.upstreamUnauthorized(KEY), a key in the name slot, is refused without repeating it', async (t) => {
  const { app, logs } = await appWith({ keys: [{ provider: 'fireworks', value: KEY }], env: {}, probe: false })
  t.teardown(() => app.close())
  app.get('/explicit', (_request, reply) => reply.upstreamUnauthorized(KEY))
  await app.ready()
  const res = await app.inject('/explicit')
  t.equal(res.statusCode, 500)
  t.match(res.json().message, /upstreamUnauthorized\(a value that looks like a key \(\d+ characters\)\): not a guarded key/)
  t.notMatch(res.body + logs.text(), /RRRRRRRR/)
})
