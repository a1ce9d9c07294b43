import { test } from 'tap'
import { Agent } from 'undici'
import { ProbeTransport, undici } from '../lib/core/transport.js'

test('the probe transport: the app\'s dispatcher as is, keyguard\'s own agent only for a proxy, none after close', async (t) => {
  t.equal(new ProbeTransport(undefined, {}).get(), undefined, 'no proxy: node:http(s)')
  const given = new Agent()
  t.teardown(() => given.close())
  const app = new ProbeTransport(given, { HTTPS_PROXY: 'http://127.0.0.1:9' })
  t.equal(app.get(), given, 'the app\'s dispatcher wins over the environment')
  app.close()
  t.equal(app.get(), given, 'and is never closed by keyguard')
  t.notOk(given.destroyed)
  const own = new ProbeTransport(undefined, { HTTPS_PROXY: 'http://127.0.0.1:9' })
  const agent = own.get()
  t.ok(agent instanceof undici().EnvHttpProxyAgent, 'an agent of keyguard\'s own for the proxy')
  t.equal(own.get(), agent, 'made once')
  own.close()
  t.equal(own.get(), undefined, 'none after close: no agent that nothing would destroy')
  t.ok((agent as unknown as { destroyed: boolean }).destroyed, 'its own agent is destroyed on close')
  own.close()
  t.equal(undici(), undici(), 'undici is loaded once (require caches it)')
})
