// JSON Schemas (draft 2020-12 subset that Fastify's Ajv and fast-json-stringify both read) of every body
// keyguard sends and of `report()`. The health routes serialise through them, so each lists every member
// its body may carry: fast-json-stringify drops a member its schema does not name.
import { CAUSES } from './causes.js'
import type { Cause } from './causes.js'

const freeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) freeze(inner)
    Object.freeze(value)
  }
  return value
}

const STATUS = Object.freeze(['pass', 'warn', 'fail'] as const)
const CAUSE_IDS = Object.freeze(Object.keys(CAUSES) as Cause[])

/** One key's state, as `report().checks[name]` and `onChange` give it. */
export const checkResultSchema = freeze({
  $id: 'urn:fastify-keyguard:schema:check-result',
  title: 'fastify-keyguard CheckResult',
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Key name (never the key)' },
    provider: { type: 'string', description: 'Provider id' },
    env: { type: 'string', description: 'The variable the key is read from' },
    status: { type: 'string', enum: STATUS },
    cause: { type: 'string', enum: CAUSE_IDS },
    reason: { type: 'string', description: 'Stable code refining the cause' },
    message: { type: 'string' },
    fix: { type: 'string' },
    source: { type: 'string', enum: ['value', 'env', 'file', 'none'] },
    fingerprint: { type: 'string', description: 'A non-reversible tag of the key in use' },
    checkedAt: { type: 'string', format: 'date-time' },
    latencyMs: { type: 'integer', minimum: 0 },
    httpStatus: { type: 'integer', minimum: 100, maximum: 599 },
    requestId: { type: 'string' },
    notes: { type: 'array', items: { type: 'string' } }
  },
  required: ['name', 'provider', 'env', 'status', 'cause', 'reason', 'message', 'fix', 'source', 'checkedAt'],
  additionalProperties: false
} as const)

/** `report()`: every key's state and the aggregate status. */
export const reportSchema = freeze({
  $id: 'urn:fastify-keyguard:schema:report',
  title: 'fastify-keyguard Report',
  type: 'object',
  properties: {
    status: { type: 'string', enum: STATUS },
    checks: { type: 'object', additionalProperties: checkResultSchema }
  },
  required: ['status', 'checks'],
  additionalProperties: false
} as const)

/** A `/livez` body (`application/health+json`). */
export const livenessSchema = freeze({
  $id: 'urn:fastify-keyguard:schema:liveness',
  title: 'fastify-keyguard liveness',
  type: 'object',
  properties: { status: { type: 'string', enum: STATUS } },
  required: ['status'],
  additionalProperties: false
} as const)

/** A `/readyz` body (`application/health+json`, draft-inadarei-api-health-check). */
export const readinessSchema = freeze({
  $id: 'urn:fastify-keyguard:schema:readiness',
  title: 'fastify-keyguard readiness',
  type: 'object',
  properties: {
    status: { type: 'string', enum: STATUS },
    checks: {
      type: 'object',
      description: 'With details only: one entry per key, named `<key name>:apiKey`',
      additionalProperties: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            componentId: { type: 'string', description: 'Provider id' },
            componentType: { type: 'string', enum: ['system'] },
            status: { type: 'string', enum: STATUS },
            time: { type: 'string', format: 'date-time' },
            observedValue: { type: 'integer', minimum: 0, description: 'Probe latency' },
            observedUnit: { type: 'string', enum: ['ms'] },
            output: { type: 'string', enum: CAUSE_IDS, description: 'The cause, when the key does not pass' }
          },
          required: ['componentId', 'componentType', 'status', 'time'],
          additionalProperties: false
        }
      }
    }
  },
  required: ['status'],
  additionalProperties: false
} as const)

/** Every problem document keyguard sends (RFC 9457, `application/problem+json`), told apart by `code`. */
export const problemSchema = freeze({
  $id: 'urn:fastify-keyguard:schema:problem',
  title: 'fastify-keyguard problem document',
  type: 'object',
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    instance: { type: 'string', description: 'The request path, without its query' },
    code: {
      type: 'string',
      enum: ['FST_KEYGUARD_KEY_FAILING', 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED', 'FST_KEYGUARD_UPSTREAM_UNAVAILABLE']
    },
    requestId: { type: 'string', description: "Fastify's id of the request" },
    key: { type: 'string', description: 'The guarded key name (never the key)' },
    provider: { type: 'string' },
    upstreamRequestId: { type: 'string' }
  },
  required: ['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId'],
  additionalProperties: false
} as const)

/** The schemas of every body keyguard sends and of `report()`. */
export const schemas = freeze({
  checkResult: checkResultSchema,
  report: reportSchema,
  liveness: livenessSchema,
  readiness: readinessSchema,
  problem: problemSchema
})
