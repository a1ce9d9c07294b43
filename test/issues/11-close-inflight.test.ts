// Issue 11.5: close() does not wait for keyguard's own upstream calls to a hanging upstream.
import { test } from 'tap'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { appWith, until } from '../helpers/app.js'
import { stubFor } from '../helpers/stub.js'

const KEY = 'fw_' + 'C'.repeat(32)

test('close() with a call in flight through keyguard.fetch to a hanging upstream returns within the probe timeout', async (t) => {
  const stub = await stubFor(t, { keys: [KEY] })
  const timeout = 800
  const { app } = await appWith({
    keys: [{ provider: 'fireworks', baseUrl: `${stub.url}/inference` }],
    env: { FIREWORKS_API_KEY: KEY },
    probe: { interval: 0, retries: 0, timeout }
  })
  app.post('/chat', async () => {
    const res = await app.keyguard.fetch(`${stub.url}/inference/v1/chat/completions`, { method: 'POST', body: '{}' })
    return res.text()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  stub.set('hang')
  const { port } = app.server.address() as AddressInfo
  const answered = new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/chat', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(-1))
    req.end()
  })
  t.ok(await until(() => stub.active > 0), 'the upstream call is in flight')
  const started = performance.now()
  await app.close()
  const took = performance.now() - started
  t.ok(took < timeout + 1_000, `close() took ${Math.round(took)} ms (probe timeout ${timeout} ms)`)
  t.not(await answered, 200, 'the client got an error answer or a closed connection, not a hang')
})
