// keyguard runs on Fastify 5 and says so to an app on Fastify 4 (the real package, installed as `fastify4`),
// with Fastify's own error: the check is the plugin's, not fastify-plugin's metadata (issue 17: Fastify's
// semver check of that metadata cost about 2.5 ms of every boot).
import { createRequire } from 'node:module'
import { test } from 'tap'
import keyguard from '../index.js'

const require = createRequire(import.meta.url)

test('registered in a real Fastify 4 app: FST_ERR_PLUGIN_VERSION_MISMATCH at register, naming both versions', async (t) => {
  const Fastify4 = require('fastify4') as (options?: object) => {
    version: string, register: (plugin: unknown, options: object) => PromiseLike<unknown>, close: () => Promise<void>
  }
  const app = Fastify4({ logger: false })
  t.teardown(() => app.close())
  t.match(app.version, /^4\./)
  const env = { FIREWORKS_API_KEY: 'fw_' + 'V'.repeat(28) }
  const err = await Promise.resolve(app.register(keyguard, { keys: ['fireworks'], env, probe: false })).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'FST_ERR_PLUGIN_VERSION_MISMATCH', statusCode: 500 })
  t.equal((err as Error).message, `fastify-plugin: fastify-keyguard - expected '5.x' fastify version, '${app.version}' is installed`)
})

test('the rule: 5.x passes, a later major\'s release candidate passes (as Fastify lets it), anything else throws', async (t) => {
  const { checkFastify } = await import('../lib/fastify/plugin.js')
  for (const version of ['5.0.0', '5.6.2', '6.0.0-rc.1', '7.1.0-rc.0']) t.doesNotThrow(() => checkFastify(version), version)
  for (const version of ['4.29.1', '6.0.0', '3.0.0-rc.1', '', 'x']) {
    t.throws(() => checkFastify(version), { code: 'FST_ERR_PLUGIN_VERSION_MISMATCH' }, version)
  }
})
