/**
 * The part of a pino-style logger the core uses. Fastify's `app.log` fits it; the core never imports
 * Fastify (the CLI hands it a silent one).
 */
export interface Logger {
  error: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({ error: () => {}, warn: () => {}, info: () => {} })
