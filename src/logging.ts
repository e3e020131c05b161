import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { destination, type DestinationStream, type LoggerOptions } from 'pino'

/**
 * Where a secret could appear in what the gateway logs. Requests are logged through
 * serializeRequest (no headers, no query) and routes log only chosen fields, so a short list of
 * exact paths suffices — wildcards would cost every line a deep walk.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'password',
  'token',
  'secret',
  'sig',
  'apiKey'
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

/**
 * The process's own logger: pretty on a terminal, otherwise JSON to stdout written asynchronously,
 * so lines that pile up under load go out in one write instead of one system call each.
 */
export function processLoggerOptions (level: string): LoggerOptions & { stream?: DestinationStream } {
  const options = loggerOptions(level)
  return options.transport === undefined ? { ...options, stream: stdoutLines() } : options
}

/**
 * stdout for one JSON line at a time, through sonic-boom in buffer mode. In its default text mode
 * sonic-boom appends each line to the text still waiting for a write to finish and then measures
 * that text's byte length, which copies all of it again for every line under load; buffers are
 * only listed, and joined once per write: 22.6 → 16.5 KB of garbage per delivery report under load
 * (bench/README.md). pino still writes what is pending at exit (it registered the destination).
 */
function stdoutLines (): DestinationStream {
  const stdout = destination({ dest: 1, sync: false, contentMode: 'buffer' })
  // sonic-boom's types describe only its text mode; in buffer mode write() takes a Buffer.
  const writeBuffer = stdout.write.bind(stdout) as unknown as (line: Buffer) => boolean
  return { write: (line: string) => { writeBuffer(Buffer.from(line)) } }
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
      client: request.client,
      method: request.method,
      route: request.routeOptions.url,
      path: request.url.split('?')[0],
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ...request.logFields
    }
    if (error) request.log.error({ ...line, err: error }, 'request errored')
    else request.log.info(line, 'request completed')
  }
}
