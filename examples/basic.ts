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
import { serve } from './serve.js'

const baseUrl = process.env.FIREWORKS_BASE_URL

const app = Fastify({ logger: true })

// onInvalid defaults to 'refuse': a missing, malformed, revoked or forbidden key makes listen() reject.
await app.register(keyguard, {
  keys: [baseUrl === undefined ? 'fireworks' : { provider: 'fireworks', baseUrl }]
})

app.get('/', async () => ({ hello: 'world' }))

await serve(app)
