/**
 * The smallest setup: refuse to boot unless the Fireworks AI key works.
 *
 *   FIREWORKS_API_KEY=fw_… node --import tsx examples/basic.ts
 *
 * Environment: FIREWORKS_API_KEY (or FIREWORKS_API_KEY_FILE), FIREWORKS_BASE_URL (a gateway, a proxy or
 * a local stand-in; default https://api.fireworks.ai), PORT (default 3000), HOST (default 0.0.0.0).
 */
import Fastify from 'fastify'
// In your application: import keyguard from 'fastify-keyguard'
import keyguard from '../index.js'

const baseUrl = process.env.FIREWORKS_BASE_URL

const app = Fastify({ logger: true })

// onInvalid defaults to 'refuse': a missing, malformed, revoked or forbidden key makes listen() reject.
await app.register(keyguard, {
  keys: [baseUrl === undefined ? 'fireworks' : { provider: 'fireworks', baseUrl }]
})

app.get('/', async () => ({ hello: 'world' }))

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'closing')
    app.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'close failed')
      process.exit(1)
    })
  })
}

try {
  // Fastify logs "Server listening at …" once the key has passed.
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '0.0.0.0' })
} catch (err) {
  // keyguard has already logged FST_KEYGUARD_BOOT_REFUSED with each key's cause and fix.
  if ((err as { code?: unknown }).code !== 'FST_KEYGUARD_BOOT_REFUSED') app.log.error({ err }, 'could not start')
  process.exit(1)
}
