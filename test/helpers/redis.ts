import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

/**
 * A real `redis-server` (Debian's redis-server 7.x) for the fleet tests and the bench: on a random
 * loopback port (127.0.0.1 only), in a temporary folder, without persistence; stopped and removed after.
 */
export interface RedisServer {
  port: number
  url: string
  /** Kills the server at once (SIGKILL): a crash, not a shutdown. */
  kill: () => Promise<void>
  /** Starts it again on the same port, empty. */
  restart: () => Promise<void>
  /** Stops it and removes its folder. */
  stop: () => Promise<void>
  /** A new client of the server; closed when the test ends if `t` is given. */
  client: (t?: Test) => Redis
}

/** The `redis-server` binary, or `undefined` when it is not installed. */
export function redisServerPath (): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path !== '' ? path : undefined
}

/** Why the fleet tests skip, or `false` when they run. */
export const SKIP: string | false = redisServerPath() === undefined
  ? 'redis-server is not installed: the fleet tests need a real Redis (apt-get install redis-server)'
  : false

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function launch (binary: string, port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--daemonize', 'no', '--loglevel', 'warning', '--logfile', '']
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not answer on port ${port}`)), 10_000)
    const poll = (): void => {
      if (child.exitCode !== null) {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${child.exitCode}`))
        return
      }
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
      probe.on('error', () => {})
      probe.connect().then(() => probe.ping()).then(() => {
        probe.disconnect()
        clearTimeout(timer)
        resolve(child)
      }, () => {
        probe.disconnect()
        setTimeout(poll, 20)
      })
    }
    poll()
  })
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))

/** Starts a server; `t` (if given) stops it when the test ends. */
export async function startRedis (t?: Test): Promise<RedisServer> {
  const binary = redisServerPath()
  if (binary === undefined) throw new Error(SKIP as string)
  const dir = mkdtempSync(join(tmpdir(), 'keyguard-redis-'))
  const port = await freePort()
  let child = await launch(binary, port, dir)
  // A test or bench process that dies must not leave its server behind.
  process.once('exit', () => { child.kill('SIGKILL') })
  const clients = new Set<Redis>()
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      child.kill('SIGKILL')
      await exited(child)
    },
    restart: async () => {
      child = await launch(binary, port, dir)
    },
    stop: async () => {
      for (const client of clients) client.disconnect()
      child.kill('SIGTERM')
      await exited(child)
      rmSync(dir, { recursive: true, force: true })
    },
    client: (test) => {
      const client = new Redis({ port, host: '127.0.0.1' })
      client.on('error', () => {})
      clients.add(client)
      test?.teardown(() => { client.disconnect() })
      return client
    }
  }
  t?.teardown(() => server.stop())
  return server
}

/** Every key of the server with its value (strings only; fleet mode stores nothing else). */
export async function dump (redis: Redis): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      const type = await redis.type(key)
      out.push([key, type === 'string' ? (await redis.get(key)) ?? '' : `<${type}>`])
    }
  } while (cursor !== '0')
  return out
}
