import type { FastifyReply, FastifyRequest } from 'fastify'

/** An RFC 9457 problem document as keyguard sends it: fixed members plus documented extensions. */
export interface ProblemDocument {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  /** The `FST_KEYGUARD_*` code. */
  code: string
  /** Fastify's id of the request, for the operator's logs. */
  requestId: string
  /** The guarded key's name (never the key). */
  key?: string
  /** The provider's id. */
  provider?: string
  /** The upstream's request id, when it gave one. */
  upstreamRequestId?: string
}

/** The part of an `@fastify/error` RFC 9457 error a document is built from. */
interface ProblemError {
  code: string
  toProblemDetails: (instance?: string) => { type: string, title: string, status: number, detail: string }
}

/** The path of the request, without its query: a query string may hold secrets. */
export function instanceOf (request: FastifyRequest): string {
  const url = request.url
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** Builds the document for `err`, overriding `type` and `status` where the options say so. */
export function problemDocument (err: ProblemError, request: FastifyRequest, extra: {
  type?: string | undefined
  status?: number
  key?: string | undefined
  provider?: string | undefined
  upstreamRequestId?: string | undefined
}): ProblemDocument {
  const base = err.toProblemDetails()
  const doc: ProblemDocument = {
    type: extra.type ?? base.type,
    title: base.title,
    status: extra.status ?? base.status,
    detail: base.detail,
    instance: instanceOf(request),
    code: err.code,
    requestId: String(request.id)
  }
  if (extra.key !== undefined) doc.key = extra.key
  if (extra.provider !== undefined) doc.provider = extra.provider
  if (extra.upstreamRequestId !== undefined) doc.upstreamRequestId = extra.upstreamRequestId
  return doc
}

/** Sends a problem document: `application/problem+json`, never cached, with `Retry-After` when given. */
export function sendProblem (reply: FastifyReply, doc: ProblemDocument, retryAfter?: number): FastifyReply {
  return problemHeaders(reply, doc, retryAfter).send(JSON.stringify(doc))
}

/** A problem document's status and headers: `application/problem+json`, never cached, `Retry-After` when given. */
export function problemHeaders (reply: FastifyReply, doc: ProblemDocument, retryAfter?: number): FastifyReply {
  reply.code(doc.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .header('cache-control', 'no-store')
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
  return reply
}
