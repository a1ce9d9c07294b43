import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fingerprint } from '../index.js'

/**
 * A stand-in for the Fireworks AI API, listening on 127.0.0.1 only, for `npm run demo`: no network,
 * no real key. It answers the two requests the demo makes with Fireworks' own answers: keyguard's
 * probe (`GET /v1/accounts/fireworks/models`) and a chat completion
 * (`POST /inference/v1/chat/completions`), 200 for a key it accepts and 401 for any other.
 */
export interface StandIn {
  /** `http://127.0.0.1:<port>`: pass it as `baseUrl` to keyguard and to the SDK. */
  url: string
  /** Requests received so far. */
  hits: number
  /** The provider issues a key: from now on it is accepted. */
  accept: (key: string) => void
  /** The key is revoked in the provider's dashboard: from now on it gets 401. */
  revoke: (key: string) => void
  close: () => Promise<void>
}

/**
 * Synthetic keys in the shape of Fireworks keys (`fw_` and 16–64 letters or digits). None of them
 * ever worked anywhere; the demo prints only their fingerprints all the same.
 */
export const SYNTHETIC_KEYS = Object.freeze({
  good: 'fw_3AmpleKeyForTheDemoNotReal1111',
  revoked: 'fw_3AmpleKeyRevokedNotRealAtAll2222',
  rotated: 'fw_3AmpleKeyRotatedInNotReal3333',
  // A zero-width space (U+200B) after the 16th character, as a copy from a web page leaves it.
  zeroWidth: 'fw_3AmpleKeyPast\u200BedFromAWebPage4444'
})

/** `log` receives one line per request: method, path, the key's fingerprint, the answer's status. */
export async function startStandIn (log: (line: string) => void): Promise<StandIn> {
  const accepted = new Set<string>()
  const server = createServer((req, res) => {
    standIn.hits++
    req.resume()
    req.on('end', () => {
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      const path = req.url ?? '/'
      const ok = key !== undefined && accepted.has(key)
      let status = 401
      let body: unknown = { error: { object: 'error', type: 'invalid_request_error', code: 'UNAUTHORIZED', message: 'The API key you provided is invalid.' } }
      if (ok && req.method === 'GET' && path.startsWith('/v1/accounts/fireworks/models')) {
        status = 200
        body = { models: [{ name: 'accounts/fireworks/models/llama-v3p1-8b-instruct' }], nextPageToken: 'n1' }
      } else if (ok && req.method === 'POST' && path === '/inference/v1/chat/completions') {
        status = 200
        body = {
          id: 'chatcmpl-standin',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'accounts/fireworks/models/llama-v3p1-8b-instruct',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the stand-in.' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 }
        }
      } else if (ok) {
        status = 404
        body = { error: { message: 'Not found' } }
      }
      log(`${req.method ?? 'GET'} ${path}  key ${key === undefined ? 'none' : fingerprint(key, ['fw_'])} → ${status}`)
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': `standin-${standIn.hits}` })
      res.end(text)
    })
  })
  server.keepAliveTimeout = 100
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const standIn: StandIn = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: 0,
    accept: (key) => { accepted.add(key) },
    revoke: (key) => { accepted.delete(key) },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
  return standIn
}
