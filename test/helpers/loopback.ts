import { createServer } from 'node:http'
import { createServer as createNet } from 'node:net'
import type { RequestListener } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'

/** A loopback HTTP server (127.0.0.1 only) that counts the connections it accepted and those still open. */
export interface Loopback {
  url: string
  /** Connections accepted so far. */
  opened: () => number
  /** Connections open now. */
  open: () => number
}

/** Listens on a random 127.0.0.1 port; when the test ends, destroys every open socket and closes. */
export async function loopback (t: Test, handler: RequestListener): Promise<Loopback> {
  let opened = 0
  const sockets = new Set<Socket>()
  const server = createServer(handler)
  server.on('connection', (socket) => {
    opened++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, opened: () => opened, open: () => sockets.size }
}

/**
 * A TCP server on 127.0.0.1 that accepts and never answers (a TLS handshake to it never ends), at an
 * `https:` URL; counts the connections it accepted and those still open.
 */
export async function silent (t: Test): Promise<Loopback> {
  let opened = 0
  const sockets = new Set<Socket>()
  const server = createNet((socket) => {
    opened++
    sockets.add(socket)
    // Read, so that the client's FIN is seen and the socket closes.
    socket.resume().on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, opened: () => opened, open: () => sockets.size }
}
