import { writeSync } from 'node:fs'
import type { Socket } from 'node:net'
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { DestinationStream, LoggerOptions } from 'pino'
import { LineWriter, type LineWriterEvents } from './line-writer.js'
import { shownPath } from './url-path.js'

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
 * The process's own logger: pretty on a terminal, otherwise JSON to stdout written in batches,
 * so lines that pile up under load go out in one write instead of one system call each.
 */
export function processLoggerOptions (level: string): LoggerOptions & { stream?: DestinationStream } {
  const options = loggerOptions(level)
  return options.transport === undefined ? { ...options, stream: stdoutLines() } : options
}

let stdoutWriter: LineWriter | undefined

/**
 * stdout, one writer for the whole process (every logger built here shares it, so lines stay in
 * order), in batches of an event-loop turn; what is left at exit is written before the process
 * ends. It replaced pino's sonic-boom destination (bench/README.md). Opening process.stdout makes
 * libuv set a pipe on fd 1 non-blocking, which LineWriter relies on to never block the loop.
 */
function stdoutLines (): DestinationStream {
  if (stdoutWriter === undefined) {
    const writer = new LineWriter(process.stdout.fd, STDOUT_NOTICES)
    process.on('exit', () => { writer.flushSync() })
    stdoutWriter = writer
  }
  return stdoutWriter
}

/** Log lines the process's stdout writer dropped since the start: for the metric of them. */
export function droppedLogLines (): number {
  return stdoutWriter?.droppedLines ?? 0
}

const MIB = 1024 * 1024

/** What the process tells on stderr about its stdout, where the log goes. */
export const STDOUT_NOTICES = {
  onFailure: (error: NodeJS.ErrnoException) => { tellStderr(`stdout failed (${error.code ?? error.message}); log lines are dropped from now on`) },
  onBacklogFull: (maxBacklogBytes: number) => { tellStderr(`stdout is not reading, and ${maxBacklogBytes / MIB} MiB of log lines wait for it; lines beyond are dropped until it reads them`) },
  onBacklogWritten: (droppedLines: number) => { tellStderr(`stdout has read the log lines that waited; ${droppedLines} were dropped meanwhile`) }
} satisfies LineWriterEvents

/**
 * With fs.writeSync, not process.stderr.write: where stderr shares stdout's pipe and that closes
 * (`2>&1 | …`, as under runit or s6), the stream would report EPIPE as an 'error' event nobody
 * listens to, and that uncaught exception would shut the gateway down. A notice stderr cannot take
 * is lost, as there is nowhere else to tell it; shorter than PIPE_BUF, it goes whole or not at all.
 */
function tellStderr (notice: string): void {
  try {
    writeSync(2, `sms-gateway: ${notice}\n`)
  } catch {}
}

/** Path only, never the query string. */
export function serializeRequest (request: FastifyRequest) {
  return { method: request.method, path: shownPath(request.url), route: request.routeOptions?.url }
}

/** The facts of a request's one log line: who called what, and how it went. */
export function completionLine (request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  const line: Record<string, unknown> = {
    client: request.client,
    method: request.method,
    route: request.routeOptions.url,
    path: shownPath(request.url),
    statusCode: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 10) / 10
  }
  // Object.assign rather than a spread at the end of the literal, which V8 copies through its
  // runtime a property at a time: this runs for every request (bench/README.md, sixteenth round).
  return request.logFields === null ? line : Object.assign(line, request.logFields)
}

/** One completion line per request, written when it completes: who called what, and how it went. */
export const CALLER_LEFT_MID_ANSWER = 'request completed, but the caller hung up before the whole answer reached it'
/** The line of an answer whose connection the gateway closed as its caller did not take it (src/plugins/answer-timeout.ts). */
export const ANSWER_NOT_TAKEN = 'request completed, but the caller did not take its answer in time: connection closed'
const kAnswerNotTaken = Symbol('closed: an answer not taken for so many ms')

/** Marks a connection about to be closed as its caller did not take an answer for `timeoutMs`: its requests' lines say so. */
export function markAnswerNotTaken (socket: Socket, timeoutMs: number): void {
  (socket as Socket & { [kAnswerNotTaken]?: number })[kAnswerNotTaken] = timeoutMs
}

function answerNotTakenFor (request: FastifyRequest): number | undefined {
  return (request.raw.socket as (Socket & { [kAnswerNotTaken]?: number }) | null)?.[kAnswerNotTaken]
}

export class GatewayLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = completionLine(request, reply)
    if (error) request.log.error({ ...line, err: error }, 'request errored')
    // Node ends an answer also when its connection goes before the whole of it was taken (a large
    // one, read slowly or not at all): the connection is gone by then, where after an answer
    // written whole it is not.
    else if (request.raw.socket?.destroyed !== true) request.log.info(line, 'request completed')
    else {
      const answerTimeoutMs = answerNotTakenFor(request)
      if (answerTimeoutMs !== undefined) request.log.warn({ ...line, answerTimeoutMs }, ANSWER_NOT_TAKEN)
      else request.log.warn({ ...line, callerLeft: true }, CALLER_LEFT_MID_ANSWER)
    }
  }
}
