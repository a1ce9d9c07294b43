import type { FastifyInstance } from 'fastify'

/**
 * Listens on `PORT`/`HOST` and shuts down in the order orchestrators need: on SIGTERM or SIGINT,
 * readiness fails first (`markShuttingDown()`), and the server closes `SHUTDOWN_DELAY_MS` later (set it
 * to about `readinessProbe.periodSeconds` in Kubernetes, so the pod leaves the Service before its
 * listener goes). Exits 1 when the boot is refused: keyguard has logged each key's cause and fix.
 */
export async function serve (app: FastifyInstance): Promise<void> {
  const delay = Number(process.env.SHUTDOWN_DELAY_MS ?? 0)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.log.info({ signal, delay }, 'shutting down: not ready from now on')
      app.keyguard.markShuttingDown()
      setTimeout(() => {
        app.close().then(() => process.exit(0), (err: unknown) => {
          app.log.error({ err }, 'close failed')
          process.exit(1)
        })
      }, delay)
    })
  }
  try {
    // Fastify logs "Server listening at …" once every key has passed.
    await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '0.0.0.0' })
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'FST_KEYGUARD_BOOT_REFUSED') app.log.error({ err }, 'could not start')
    process.exit(1)
  }
}
