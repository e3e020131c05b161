import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { LoggerOptions } from 'pino'

/** Paths that may carry a secret anywhere a request, an error or our own objects are logged. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  '*.headers.authorization',
  'options.headers.authorization',
  '*.options.headers.authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'sig',
  '*.sig'
]

export function loggerOptions (level: string, pretty = process.stdout.isTTY === true): LoggerOptions {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest }
  }
  if (pretty) options.transport = { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } }
  return options
}

/** Path only: query strings carry delivery-report signatures and phone numbers. */
export function serializeRequest (request: FastifyRequest) {
  return { method: request.method, path: request.url.split('?')[0], route: request.routeOptions?.url }
}

/** One line per request, written when it completes: who called what, and how it went. */
export class GatewayLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url,
      path: request.url.split('?')[0],
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10
    }
    if (error) request.log.error({ ...line, err: error }, 'request errored')
    else request.log.info(line, 'request completed')
  }
}
