import type { FastifyRequest } from 'fastify'
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

export default fp(async function requestLogPlugin (app) {
  app.decorateRequest('logFields', null)
  // fastify writes a request's line once its answer has gone out, which an answer to a caller who
  // hung up never does: a send whose caller left would leave no trace of its outcome. A callback
  // hook, as it runs on every request.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.raw.destroyed) request.log.warn({ ...completionLine(request, reply), callerLeft: true }, 'request completed, but the caller had hung up')
    done(null, payload)
  })
}, { name: 'request-log', fastify: '5.x' })
