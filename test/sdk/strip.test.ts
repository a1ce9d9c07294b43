import { APICallError } from '@ai-sdk/provider'
import type { FastifyError } from 'fastify'
import { test } from 'tap'
import { CASES, sdkApp } from '../helpers/sdk.js'

/**
 * Strip by allow-list (issue 10, item 3): a recognised upstream error reaches Fastify's logger and the
 * application's error handler with only the members keyguard knows to be safe, whatever the SDK adds.
 */

// `message` is enumerable where an SDK assigns it after construction (HubApiError); keyguard rewrites it.
const SAFE = ['name', 'code', 'status', 'statusCode', 'requestID', 'requestId', 'request_id', 'message']
const FUTURE = 'FUTURE-FIELD-CANARY'

for (const c of CASES) {
  test(`${c.row}: a field a future version adds to the real error does not reach the log or the error handler`, async (t) => {
    const { app, logs, stub, key } = await sdkApp(t, c)
    let seen: { keys: string[], message: string, marker: boolean } | undefined
    await app.register(async (child) => {
      child.setErrorHandler((error: FastifyError, request, reply) => {
        seen = { keys: Object.keys(error), message: error.message, marker: APICallError.isInstance(error) }
        request.log.error({ err: error }, 'the application logs the error it got')
        return reply.send(error)
      })
      child.post('/chat', async () => {
        try {
          return await c.call({ key, url: stub.url })
        } catch (err) {
          // What the next version of the SDK might add: more upstream text, under names no list knows.
          Object.assign(err as object, { [FUTURE.toLowerCase()]: `${FUTURE} ${JSON.stringify(c.rejection.body)}`, context: { body: FUTURE } })
          Object.defineProperty(err, 'hidden', { value: FUTURE, enumerable: false, configurable: true })
          Object.defineProperty(err, 'locked', { value: FUTURE, enumerable: true, writable: true, configurable: false })
          throw err
        }
      })
    })
    await app.ready()
    stub.set('custom', { status: c.rejection.status, body: c.rejection.body, headers: c.rejection.headers })
    const res = await app.inject({ method: 'POST', url: '/chat' })
    t.equal(res.statusCode, 502)
    t.notOk(res.body.includes(FUTURE))
    t.ok(seen, 'the error handler ran')
    t.same(seen?.keys.filter((name) => !SAFE.includes(name) && name !== 'locked'), [], `only safe members reach the handler: ${seen?.keys.join(', ')}`)
    t.match(seen?.message, /upstream text withheld by fastify-keyguard/)
    t.equal(seen?.marker, c.pkg.startsWith('@ai-sdk/'), "Vercel's isInstance marker survives (a symbol, never logged)")
    t.notOk(logs.text().includes(FUTURE), 'nothing of the new fields in the log')
    for (const word of c.rejection.words) t.notOk(logs.text().includes(word), `no upstream "${word}" in the log`)
    t.ok(logs.lines.some((line) => line.includes('the application logs the error it got') && line.includes('[withheld by fastify-keyguard]')), 'a member that cannot be deleted is replaced')
  })
}
