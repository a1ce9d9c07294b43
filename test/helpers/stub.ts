import { createServer } from 'node:http'
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { createSecureServer } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { gzipSync } from 'node:zlib'
import type { Test } from 'tap'

/**
 * A real loopback stand-in for an AI provider (127.0.0.1 only). It speaks each provider's dialect on
 * its probe path, answers OpenAI-style chat completions, and has the fault modes of faults.md §0.
 * Every request is counted, so tests can assert that no upstream call happened.
 */
export type Mode =
  | 'auth' // 200 for a key in `keys`, the provider's real invalid-key answer otherwise
  | 'ok' | '401json' | '401text' | '401html' | '401empty' | '401lying'
  | '403json' | '403waf' | '402' | '429' | '429quota' | '500' | '502' | '503' | 'cf52x' | '404' | '400'
  | 'redirect' | 'hang' | 'trickle' | 'stall' | 'rst' | 'fin' | 'garbage' | 'bighdr' | 'clmismatch'
  | 'huge' | 'gzipbomb' | 'captive' | 'wrongshape' | 'slow'
  | 'custom' // `status`, `body` and `contentType` as given
  | 'longlist' // the provider's valid answer with its list padded far beyond the probe's read cap
  | 'badchunk' // chunked framing with an invalid chunk size

export interface StubRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

export interface StubOptions {
  mode?: Mode
  /** Keys `auth` mode accepts. */
  keys?: string[]
  /** `Retry-After` for 429/503 modes. */
  retryAfter?: string
  /** Target of `redirect` mode. */
  location?: string
  /** Delay of `slow` mode before a normal `auth` answer, ms. */
  delay?: number
  /** Status of `custom`, `huge` (default 200) and `redirect` (default 302) modes. */
  status?: number
  /** Body of `custom` mode: a string as is, anything else as JSON. */
  body?: unknown
  /** `content-type` of `custom` mode (default `application/json`; `null` sends none). */
  contentType?: string | null
  /** Extra headers on every answer (e.g. `set-cookie`, `www-authenticate`). */
  headers?: Record<string, string>
  /**
   * The server's keep-alive timeout, ms (default 100). Below 1 s Node's server sends `Keep-Alive: timeout=0`,
   * and Node's client then closes every connection after its answer; a real provider keeps them (the
   * benchmarks use Node's default, 5 s).
   */
  keepAliveTimeout?: number
  /**
   * A certificate and its key: the stand-in then speaks TLS and offers HTTP/2 and HTTP/1.1 at ALPN, as
   * providers do, at `https://127.0.0.1:<port>` (the fault modes that write to the raw socket are HTTP/1.1's);
   * with `h2: false`, HTTP/1.1 only (no ALPN).
   */
  tls?: { key: Buffer, cert: Buffer, h2?: boolean }
}

export interface Stub {
  /** `http://127.0.0.1:<port>` */
  url: string
  hits: number
  /** Requests currently being answered. */
  active: number
  /** Most concurrent requests seen. */
  peak: number
  requests: StubRequest[]
  options: StubOptions
  /** Switches the mode (and other options) for the next requests. */
  set: (mode: Mode, options?: Omit<StubOptions, 'mode'>) => void
  /** The key of the last request, from whichever auth header it used. */
  lastKey: () => string | undefined
  close: () => Promise<void>
}

/** The valid answer of each provider's probe path, and the chat route. */
function okBody (path: string): unknown {
  if (path.startsWith('/v1/accounts/fireworks/models')) return { models: [{ name: 'accounts/fireworks/models/llama-v3p1-8b-instruct' }], nextPageToken: 'x' }
  if (path.startsWith('/v1beta/models')) return { models: [{ name: 'models/gemini-2.5-flash' }] }
  if (path.startsWith('/v1/check-api-key')) return { valid: true, organization_id: 'org', owner_id: 'owner' }
  if (path.startsWith('/user/balance')) return { is_available: true, balance_infos: [] }
  if (path.startsWith('/api/v1/key')) return { data: { label: 'k', limit: null, limit_remaining: null, usage: 0 } }
  if (path.startsWith('/v1/api-key')) return { redacted_api_key: 'xai-…', name: 'k', acls: [], api_key_blocked: false, api_key_disabled: false, team_blocked: false }
  if (path.startsWith('/api/whoami-v2')) return { type: 'user', name: 'u', auth: { type: 'access_token', accessToken: { displayName: 't', role: 'read' } } }
  if (path.startsWith('/v1/account')) return { type: 'user', username: 'u', name: 'U' }
  if (path.startsWith('/v1/user')) return { user_id: 'u1', subscription: { tier: 'free' }, first_name: 'U' }
  if (path.startsWith('/indexes')) return { indexes: [] }
  if (path.startsWith('/v1/projects')) return { projects: [{ project_id: 'p1', name: 'P' }] }
  if (path.startsWith('/v2/transcript')) return { page_details: { limit: 1, result_count: 0, current_url: 'u', prev_url: null, next_url: null }, transcripts: [] }
  if (path.startsWith('/api/v1/api-key')) return [{ id: 'k1', short_key: 'lsv2_…1234', description: 'k' }]
  if (path.endsWith('/chat/completions')) {
    return { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }
  }
  return { object: 'list', data: [{ id: 'model-1', object: 'model' }] }
}

/** `okBody` with its first list repeated until the JSON is longer than `size` bytes. */
function longBody (path: string, size: number): string {
  const body = okBody(path) as Record<string, unknown>
  const [name, list] = Object.entries(body).find(([, value]) => Array.isArray(value)) as [string, unknown[]]
  const entry = JSON.stringify(list[0])
  const count = Math.ceil(size / (entry.length + 1))
  return JSON.stringify({ ...body, [name]: [] }).replace(`"${name}":[]`, `"${name}":[${Array(count).fill(entry).join(',')}]`)
}

let bomb: Buffer | undefined

const mask = (key: string): string => key.length > 12 ? `${key.slice(0, 8)}****${key.slice(-4)}` : key

const OPENRESTY_401 = '<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>openresty/1.25.3.1</center>\r\n</body>\r\n</html>'

/**
 * The provider's real invalid-key answer for a probe path: status, body and, for a non-JSON body, its
 * content type (faults.md, providers.md, and the sources named in each lib/providers file).
 */
function rejectAnswer (path: string, key: string): [number, unknown, string?] {
  // Azure OpenAI: microsoft/semantic-kernel#10337, SciSharp/BotSharp#386.
  if (path.startsWith('/openai/models')) return [401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } }]
  // Perplexity answers from openresty in HTML (perplexityai/api-discussion#281).
  if (path === '/models') return [401, OPENRESTY_401, 'text/html']
  // ElevenLabs: SillyTavern/SillyTavern#4483.
  if (path.startsWith('/v1/user')) return [401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } }]
  // Pinecone: trufflehog pkg/detectors/pinecone (errorResponse { status, error: { code, message } }).
  if (path.startsWith('/indexes')) return [401, { error: { code: 'UNAUTHENTICATED', message: 'Invalid API Key' }, status: 401 }]
  // Deepgram: Natively-AI-assistant/natively-cluely-ai-assistant#369.
  if (path.startsWith('/v1/projects')) return [401, { err_code: 'INVALID_AUTH', err_msg: 'Invalid credentials.', request_id: '019f5990-aa76-7d53-a2ca-a90ec21c5919' }]
  // AssemblyAI: unverified body (no public capture found); the status is trufflehog's.
  if (path.startsWith('/v2/transcript')) return [401, { error: 'Authentication error, API token missing/invalid' }]
  // LangSmith: langchain-ai/langsmith-sdk#666.
  if (path.startsWith('/api/v1/api-key')) return [401, { detail: 'Invalid token' }]
  if (path.startsWith('/v1beta/models')) {
    return [400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }] } }]
  }
  if (path.startsWith('/v1/api-key')) return [400, { code: 'Client specified an invalid argument', error: `Incorrect API key provided: ${mask(key)}. You can obtain an API key from https://console.x.ai.` }]
  if (path.startsWith('/v1/check-api-key')) return [200, { valid: false }]
  if (path.startsWith('/api/v1/key')) return [401, { error: { message: 'User not found.', code: 401 } }]
  if (path.startsWith('/api/whoami-v2')) return [401, { error: 'Invalid credentials in Authorization header' }]
  if (path.startsWith('/v1/account')) return [401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 }]
  if (path.startsWith('/user/balance')) return [401, { error: { message: `Authentication Fails, Your api key: ****${key.slice(-4)} is invalid`, type: 'authentication_error', param: null, code: 'invalid_request_error' } }]
  if (path.startsWith('/v1/accounts/fireworks/models')) return [401, { error: { object: 'error', type: 'invalid_request_error', code: 'UNAUTHORIZED', message: 'The API key you provided is invalid.' } }]
  if (path.startsWith('/v1/models?limit')) return [401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_011' }]
  return [401, { error: { message: `Incorrect API key provided: ${mask(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }]
}

/** The key a request carries, whichever header the provider uses. */
export function keyOf (headers: IncomingMessage['headers']): string | undefined {
  const auth = headers.authorization
  if (typeof auth === 'string') return auth.replace(/^(?:Bearer|Token)\s+/i, '')
  const other = headers['x-api-key'] ?? headers['x-goog-api-key'] ?? headers['xi-api-key'] ?? headers['api-key']
  return typeof other === 'string' ? other : undefined
}

function json (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': 'req_stub_1', ...extra })
  res.end(text)
}

const CF_HTML = '<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body><div class="cf-error-details">Sorry, you have been blocked. Ray ID: 8f00000000000000</div></body></html>'

export async function startStub (initial: StubOptions = {}): Promise<Stub> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const later = (fn: () => void, ms: number): void => {
    const t = setTimeout(() => { timers.delete(t); fn() }, ms)
    timers.add(t)
  }
  const stub: Stub = {
    url: '',
    hits: 0,
    active: 0,
    peak: 0,
    requests: [],
    options: { mode: 'auth', keys: [], ...initial },
    set (mode, options = {}) {
      stub.options = { ...stub.options, ...options, mode }
    },
    lastKey: () => {
      const last = stub.requests.at(-1)
      return last === undefined ? undefined : keyOf(last.headers)
    },
    close: async () => {
      for (const t of timers) clearTimeout(t)
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  // Each case returns whatever its last call gives back; the value is ignored.
  const answer = (req: IncomingMessage, res: ServerResponse, body: string): unknown => {
    const path = req.url ?? '/'
    const key = keyOf(req.headers) ?? ''
    const o = stub.options
    for (const [name, value] of Object.entries(o.headers ?? {})) res.setHeader(name, value)
    const auth = (): void => {
      if ((o.keys ?? []).includes(key)) json(res, 200, okBody(path))
      else {
        const [status, payload, type] = rejectAnswer(path, key)
        const extra = { 'www-authenticate': 'Bearer realm="upstream"', 'set-cookie': 'upstream_session=abc; Path=/' }
        if (type === undefined) json(res, status, payload, extra)
        else {
          res.writeHead(status, { 'content-type': type, ...extra })
          res.end(payload)
        }
      }
    }
    switch (o.mode) {
      case 'ok': return json(res, 200, okBody(path))
      case 'auth': return auth()
      case 'slow': return later(auth, o.delay ?? 100)
      case '401json': return json(res, 401, rejectAnswer(path, key)[1], { 'www-authenticate': 'Basic realm="upstream"', 'set-cookie': 'upstream_session=abc; Path=/' })
      case '401text': res.writeHead(401, { 'content-type': 'text/plain' }); return res.end('Unauthorized')
      case '401html': res.writeHead(401, { 'content-type': 'text/html' }); return res.end('<html><head><title>401 Authorization Required</title></head><body><center><h1>401 Authorization Required</h1></center><hr><center>openresty</center></body></html>')
      case '401empty': res.writeHead(401); return res.end()
      case '401lying': res.writeHead(401, { 'content-type': 'application/json' }); return res.end('{"error": not json')
      case '403json': return json(res, 403, { error: { message: 'You are not allowed to use this model', type: 'permission_error', code: 'FORBIDDEN' } })
      case '403waf': res.writeHead(403, { 'content-type': 'text/html', server: 'cloudflare', 'cf-ray': '8f00000000000000-AMS' }); return res.end(CF_HTML)
      case '402': return json(res, 402, { error: { message: 'Payment required', code: 'PAYMENT_REQUIRED' } })
      case '429': return json(res, 429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, o.retryAfter === undefined ? {} : { 'retry-after': o.retryAfter })
      case '429quota': return json(res, 429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } })
      case '500': return json(res, 500, { error: { message: 'Error listing deployed models', code: 'INTERNAL' } })
      case '502': return json(res, 502, { error: { message: 'Bad gateway' } })
      case '503': return json(res, 503, { error: { message: 'Service Overloaded' } }, o.retryAfter === undefined ? {} : { 'retry-after': o.retryAfter })
      case 'cf52x': res.writeHead(522, { 'content-type': 'text/html', server: 'cloudflare', 'cf-ray': '8f00000000000000-AMS' }); return res.end('<html><title>Connection timed out | Cloudflare</title><body>Error 522 Ray ID: 8f0</body></html>')
      case '404': return json(res, 404, { error: { message: 'Not found' } })
      case '400': return json(res, 400, { error: { message: 'Bad request' } })
      case 'redirect': res.writeHead(o.status ?? 302, { location: o.location ?? 'http://localhost:1/elsewhere' }); return res.end()
      case 'hang': return undefined
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/json' })
        const drip = (): void => { if (!res.destroyed) { res.write(' '); later(drip, 20) } }
        return drip()
      }
      case 'stall': res.writeHead(200, { 'content-type': 'application/json' }); return res.write('{"data":[')
      case 'rst': return (req.socket as Socket & { resetAndDestroy: () => void }).resetAndDestroy()
      case 'fin': return req.socket.destroy()
      case 'garbage': return req.socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')
      case 'bighdr': res.writeHead(200, { 'content-type': 'application/json', 'x-big': 'a'.repeat(70_000) }); return res.end('{}')
      case 'clmismatch': res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' }); res.write('{"da'); return req.socket.destroy()
      case 'huge': {
        res.writeHead(o.status ?? 200, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(64 * 1024, 0x20)
        let sent = 0
        const pump = (): void => {
          while (sent < 20 * 1024 * 1024 && !res.destroyed) {
            sent += chunk.length
            if (!res.write(chunk)) {
              res.once('drain', pump)
              return
            }
          }
          res.end()
        }
        res.write('{"data":[')
        return pump()
      }
      case 'gzipbomb': {
        bomb ??= gzipSync(Buffer.concat([Buffer.from('{"data":['), Buffer.alloc(50 * 1024 * 1024, 0x20), Buffer.from(']}')]))
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length })
        return res.end(bomb)
      }
      case 'captive': res.writeHead(200, { 'content-type': 'text/html' }); return res.end('<html><body><h1>Login required</h1><form action="/login"></form></body></html>')
      case 'wrongshape': return json(res, 200, { status: 'ok', message: 'hello' })
      case 'custom': {
        const text = typeof o.body === 'string' ? o.body : o.body === undefined ? '' : JSON.stringify(o.body)
        const type = o.contentType === undefined ? { 'content-type': 'application/json' } : o.contentType === null ? {} : { 'content-type': o.contentType }
        res.writeHead(o.status ?? 200, { ...type, 'content-length': Buffer.byteLength(text) })
        return res.end(text)
      }
      case 'longlist': {
        const text = longBody(path, 4 * 64 * 1024)
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
        return res.end(text)
      }
      case 'badchunk': return req.socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n')
      default: return body
    }
  }

  const listener: RequestListener = (req, res) => {
    stub.hits++
    stub.active++
    stub.peak = Math.max(stub.peak, stub.active)
    res.on('close', () => { stub.active-- })
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      stub.requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body })
      answer(req, res, body)
    })
  }
  // HTTP/2's compatibility request and response stand in for node:http's in every mode that keeps to
  // headers and body.
  const { h2 = true, ...tls } = initial.tls ?? {}
  const server: Server | Http2SecureServer = initial.tls === undefined
    ? createServer(listener)
    : h2
      ? createSecureServer({ ...tls, allowHTTP1: true }, listener as unknown as Parameters<typeof createSecureServer>[1])
      : createHttpsServer(tls, listener)
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = initial.keepAliveTimeout ?? 100
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stub.url = `${initial.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`
  return stub
}

/** A stand-in (`startStub`) closed when the test ends. */
export async function stubFor (t: Test, options: StubOptions = {}): Promise<Stub> {
  const stub = await startStub(options)
  t.teardown(() => stub.close())
  return stub
}
