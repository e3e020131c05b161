import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { completionLine } from '../logging.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** what a route wants on the request's one log line (see GatewayLogController) */
    logFields: Record<string, unknown> | null
  }
}

/** Routes add their facts to the request's single completion line instead of logging lines of their own. */
export function addLogFields (request: FastifyRequest, fields: Record<string, unknown>): void {
  request.logFields = request.logFields === null ? fields : Object.assign(request.logFields, fields)
}

export const CALLER_LEFT = 'request completed, but the caller had hung up'

/**
 * The line of a request whose answer will never be written, as its caller hung up: fastify writes
 * a request's line once its answer has gone out, so a send whose caller left would leave no trace
 * of its outcome.
 */
export function logCallerLeft (request: FastifyRequest, reply: FastifyReply): void {
  request.log.warn({ ...completionLine(request, reply), callerLeft: true }, CALLER_LEFT)
}

export default fp(async function requestLogPlugin (app) {
  app.decorateRequest('logFields', null)
  // A callback hook, as it runs on every request. A route's own onSend hooks run after it: one
  // that waits (idempotency's) calls logCallerLeft itself for a caller who left meanwhile.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.raw.destroyed) logCallerLeft(request, reply)
    done(null, payload)
  })
}, { name: 'request-log', fastify: '5.x' })
