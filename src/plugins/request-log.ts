import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

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
}, { name: 'request-log', fastify: '5.x' })
