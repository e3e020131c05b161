import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { addLogFields } from './request-log.js'
import { reasonForPattern } from '../schemas/patterns.js'
import { LONGEST_SHOWN_HEADER, shortened } from '../shortened.js'
import { pathOf, shownPath } from '../url-path.js'
import { GatewayError, pointerToken, PROBLEM_CONTENT_TYPE, toProblem, validationError, type ErrorCode, type FieldError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** true from the moment close() starts: new requests are refused, running ones finish */
    isClosing: () => boolean
  }
}

/** Keeps a problem readable and bounded when a huge body fails everywhere at once. */
const MAX_FIELD_ERRORS = 20

interface AjvError { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

/** What the other errors show about each path, gathered in one pass over them. */
interface PathEvidence {
  /** paths with an error somewhere inside them */
  enclosing: Set<string>
  /** paths with an error of their own other than a type's */
  otherThanType: Set<string>
}

/**
 * One pass, so that judging every error against all the others stays linear: with allErrors a
 * body of 400,000 wrong items has as many errors, and comparing each with the rest cost a refusal
 * seconds of CPU.
 */
function gatherEvidence (errors: readonly AjvError[]): PathEvidence {
  const enclosing = new Set<string>()
  const otherThanType = new Set<string>()
  for (const error of errors) {
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') continue
    if (error.keyword !== 'type') otherThanType.add(error.instancePath)
    let path = error.instancePath
    for (let end = path.lastIndexOf('/'); end >= 0; end = path.lastIndexOf('/')) {
      path = path.slice(0, end)
      // Its own enclosing paths were added with it.
      if (enclosing.has(path)) break
      enclosing.add(path)
    }
  }
  return { enclosing, otherThanType }
}

/**
 * A union's branch that wanted another type (`to` as a string, when a list came) is noise once the
 * value took the other branch and failed inside it: `to: [""]` is about `/to/0`, not "must be string".
 */
function isOtherBranchType (error: AjvError, evidence: PathEvidence): boolean {
  return error.keyword === 'type' && (evidence.enclosing.has(error.instancePath) || evidence.otherThanType.has(error.instancePath))
}

/** Turns Ajv's errors into `{ field, reason }` pairs a caller can act on. */
export function describeValidation (errors: readonly AjvError[], part: string): FieldError[] {
  const fields: FieldError[] = []
  const prefix = part === 'body' ? '' : `${part}:`
  const evidence = gatherEvidence(errors)
  for (const error of errors) {
    if (isOtherBranchType(error, evidence)) continue
    if (fields.length === MAX_FIELD_ERRORS) break
    let field = error.instancePath
    let reason = error.message ?? 'is invalid'
    if (error.keyword === 'additionalProperties') {
      field += `/${pointerToken(String(error.params.additionalProperty))}`
      reason = 'is not a known field'
    } else if (error.keyword === 'required') {
      field += `/${pointerToken(String(error.params.missingProperty))}`
      reason = 'is required'
    } else if (error.keyword === 'pattern') {
      reason = reasonForPattern(error.params.pattern) ?? reason
    } else if (error.keyword === 'anyOf' || error.keyword === 'oneOf') {
      // The branch errors before it already say what each alternative wanted, here or inside.
      if (fields.some((f) => f.field === `${prefix}${field}` || f.field.startsWith(`${prefix}${field}/`))) continue
      reason = 'does not match any allowed form'
    }
    const entry = { field: `${prefix}${field}`, reason }
    const same = fields.find((f) => f.field === entry.field)
    if (same === undefined) fields.push(entry)
    else if (!same.reason.includes(reason)) same.reason += `; or ${reason}`
  }
  return fields
}

const CODE_BY_FASTIFY_ERROR: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'GW_BODY_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'GW_BODY_MALFORMED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'GW_BODY_MALFORMED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'GW_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'GW_MEDIA_TYPE_UNSUPPORTED',
  FST_ERR_CTP_EMPTY_TYPE: 'GW_MEDIA_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_TYPE: 'GW_MEDIA_TYPE_UNSUPPORTED'
}

/** Any error that escapes a handler, as a GatewayError: nothing internal reaches the caller. */
export function toGatewayError (error: FastifyError | GatewayError | Error, request?: FastifyRequest): GatewayError {
  if (error instanceof GatewayError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    return validationError(describeValidation(fastifyError.validation as AjvError[], fastifyError.validationContext ?? 'body'))
  }
  if (fastifyError.code === 'FST_ERR_BAD_URL') {
    return validationError([{ field: 'path', reason: 'is not a valid URL path: a "%" must start an escape of two hex digits that decodes to UTF-8' }])
  }
  const mapped = fastifyError.code === undefined ? undefined : CODE_BY_FASTIFY_ERROR[fastifyError.code]
  if (mapped !== undefined) return new GatewayError(mapped, publicDetail(mapped, error, request))
  const status = fastifyError.statusCode ?? 500
  if (error instanceof SyntaxError && status === 400) return new GatewayError('GW_BODY_MALFORMED', error.message)
  // Raised by plugins (Swagger UI's static files): a path outside them is as absent as any other.
  if (status === 403 || status === 404) return new GatewayError('GW_NOT_FOUND', 'No such resource.')
  if (status === 416) return new GatewayError('GW_RANGE_NOT_SATISFIABLE', 'The requested range is outside the resource.')
  if (status >= 400 && status < 500) return new GatewayError('GW_VALIDATION_FAILED', error.message)
  return new GatewayError('GW_INTERNAL', 'The gateway failed unexpectedly; the incident is in its log.')
}

/** A caller's header as quoted in a detail: bounded, and printable. */
const quoted = (value: string) => JSON.stringify(shortened(value, LONGEST_SHOWN_HEADER))

function publicDetail (code: ErrorCode, error: Error, request: FastifyRequest | undefined): string {
  switch (code) {
    case 'GW_BODY_TOO_LARGE': {
      const limit = request?.routeOptions.bodyLimit
      const exceeds = limit === undefined ? 'The body exceeds the gateway\'s limit' : `The body exceeds this route's limit of ${limit} bytes`
      return request?.routeOptions.url === '/sms' ? `${exceeds}; split the recipients over several requests.` : `${exceeds}.`
    }
    case 'GW_MEDIA_TYPE_UNSUPPORTED': {
      const sent = request?.headers['content-type']
      return `Send the body as application/json, or as a form to /dlr; ${sent === undefined ? 'no Content-Type was sent' : `Content-Type ${quoted(sent)} is not accepted`}.`
    }
    default: return error.message
  }
}

/**
 * fastify's clientErrorHandler: what Node's HTTP parser refuses before any route or hook sees it
 * (headers over MAX_HEADER_BYTES, a request that did not arrive within REQUEST_TIMEOUT_MS, bytes
 * that are not HTTP) is answered as a problem too, then the connection is closed, as Node does.
 */
export function answerClientError (this: FastifyInstance | void, error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  if (answersAllDue(socket as HttpSocket)) {
    closeOnceAnswered(socket)
    return
  }
  // A request answered early (a 404, a 413) whose body then stopped coming: its answer is written,
  // and another would read as the answer to a next request. Node had dumped its body unread.
  if ((socket as HttpSocket).parser?.incoming?._dumped === true) {
    socket.destroy()
    return
  }
  const problem = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? toProblem('GW_REQUEST_TIMEOUT', 'The request did not arrive in time; send it again.')
    : error.code === 'HPE_HEADER_OVERFLOW'
      ? toProblem('GW_HEADERS_TOO_LARGE', 'The request headers exceed the gateway\'s limit.')
      : toProblem('GW_HTTP_MALFORMED', 'The request could not be read as HTTP/1.1.')
  // No route saw it, so no request line is logged for it: this is the trace of a slow or broken client.
  this?.log.info({ statusCode: problem.status, code: problem.code, reason: error.code, remoteAddress: socket.remoteAddress }, 'connection refused before routing')
  if (socket.writable) {
    const body = JSON.stringify(problem)
    socket.write(`HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(error)
}

/**
 * Node's own fields on a server socket: the answer being written on it now, if any, and its
 * parser, whose `incoming` is the last request it began to read.
 */
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null, parser?: { incoming?: (IncomingMessage & { _dumped?: boolean }) | null } | null }

/**
 * True when answers are still due on this connection and every request it carried has fully
 * arrived: each will be answered. A request whose own body broke off (the bytes that are not HTTP
 * are its body) never will be, and its connection is refused and closed at once, as Node does.
 */
function answersAllDue (socket: HttpSocket): boolean {
  const lastRead = socket.parser?.incoming
  return socket._httpMessage?.req.complete === true && (lastRead == null || lastRead.complete)
}

const closingOnceAnswered = new WeakSet<Socket>()

/**
 * When bytes that are not HTTP follow a request still being answered on the same connection (a
 * pipelined send): HTTP/1.1 answers in order, so a problem written now would read as the answer
 * to that request — a send the caller would then believe refused, and perhaps send again — and
 * destroying the connection would lose its real answer. So nothing more is read, the answers
 * already due are written, and then the connection closes.
 */
function closeOnceAnswered (socket: Socket): void {
  if (closingOnceAnswered.has(socket)) return
  closingOnceAnswered.add(socket)
  socket.pause()
  const closeWhenIdle = (): void => {
    const answer = (socket as HttpSocket)._httpMessage
    if (answer == null) {
      // Destroyed once written: paused, it would never read the caller's own end of the connection.
      socket.end(() => { socket.destroy() })
      return
    }
    // Once it is written, Node hands the connection to the next answer due, if there is one.
    answer.once('close', () => { setImmediate(closeWhenIdle) })
  }
  closeWhenIdle()
}

export function sendProblem (reply: FastifyReply, error: GatewayError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value)
  return reply
    .code(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(toProblem(error.code, error.message, error.extensions))
}

export default fp(async function problemsPlugin (app) {
  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toGatewayError(error, request)
    if (problem.status >= 500 && problem.code === 'GW_INTERNAL') {
      request.log.error({ err: error }, 'unhandled error')
    } else {
      addLogFields(request, { code: problem.code, detail: problem.message })
    }
    return sendProblem(reply, problem)
  })

  // From the moment close() starts, new requests get a 503 problem; requests already in flight
  // finish normally. Every answer then closes its connection, or idle keep-alive clients would
  // hold the server open until the grace period ran out.
  // The two per-request hooks take a callback: they run on every request, and an async hook
  // costs a promise and a microtask each time even when it has nothing to do.
  let closing = false
  // The server's close closes the connections idle when closing starts; one still receiving the
  // rest of a body it was answered for early (a 404, a 413) goes idle only later, and would then
  // hold the close until its keep-alive ran out (72 s), past the grace period. So idle ones are
  // closed as they come, until the server has closed.
  // Node's own closeIdleConnections (server.close() calls it too) takes an answer for done once it
  // has ended, not once it has been written: a large one still in the socket's buffers (a bulk
  // send's megabytes, to a caller reading slowly) was cut short, its recipients' fates lost. So
  // an answer not yet written is shown to it as not ended, for the moment it looks; what it
  // takes for idle is otherwise its own (a request whose head is still arriving is not).
  const connections = new Set<HttpSocket>()
  app.server.on('connection', (socket: HttpSocket) => {
    connections.add(socket)
    socket.once('close', () => { connections.delete(socket) })
  })
  const closeIdle = app.server.closeIdleConnections.bind(app.server)
  app.server.closeIdleConnections = () => {
    const unwritten: ServerResponse[] = []
    for (const socket of connections) {
      const answer = socket._httpMessage
      if (answer?.finished === true && !answer.writableFinished) {
        answer.finished = false
        unwritten.push(answer)
      }
    }
    try {
      closeIdle()
    } finally {
      for (const answer of unwritten) answer.finished = true
    }
  }
  let closingIdle: NodeJS.Timeout | undefined
  app.addHook('preClose', async () => {
    closing = true
    closingIdle = setInterval(() => { app.server.closeIdleConnections() }, IDLE_CONNECTIONS_SWEEP_MS).unref()
  })
  app.addHook('onClose', async () => { clearInterval(closingIdle) })
  app.decorate('isClosing', () => closing)
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
  // The methods of each fixed path, so that a path served for other methods is told apart from
  // one not served at all (405 with Allow, not 404).
  const methodsByPath = new Map<string, Set<string>>()
  app.addHook('onRoute', ({ url, method, routePath }) => {
    if (/[:*(]/.test(url)) return
    // A plugin's own root ('' under its prefix) is served with and without the trailing slash.
    for (const path of routePath === '' ? [url, `${url}/`] : [url]) {
      const methods = methodsByPath.get(path) ?? new Set<string>()
      for (const name of Array.isArray(method) ? method : [method]) methods.add(name)
      methodsByPath.set(path, methods)
    }
  })
  const noRouteFor = (request: FastifyRequest): GatewayError => {
    const path = pathOf(request.url)
    const methods = methodsByPath.get(path) ?? methodsByPath.get(decodedPath(path))
    if (methods === undefined) return new GatewayError('GW_NOT_FOUND', `No route for ${request.method} ${shownPath(request.url)}.`)
    const allow = [...methods].sort().join(', ')
    return new GatewayError('GW_METHOD_NOT_ALLOWED', `${path} does not take ${request.method}; it takes ${allow}.`, {}, { allow })
  }

  app.addHook('onRequest', (request, _reply, done) => {
    if (closing) return done(new GatewayError('GW_SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance.', {}, { 'retry-after': '1' }))
    // HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own refusal is a bare 400 nobody logs.
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      return done(new GatewayError('GW_VALIDATION_FAILED', 'Send a Host header: HTTP/1.1 requires one.', { errors: [{ field: 'headers:/host', reason: 'is missing' }] }))
    }
    // Before its body is read: anyone could otherwise have a body limit's worth of JSON parsed (and
    // a malformed one refused as such) on the way to a 404.
    if (request.is404) return done(noRouteFor(request))
    done()
  })

  app.setNotFoundHandler(async (request, reply) => sendProblem(reply, noRouteFor(request)))

  // Node answers an Expect it does not know (anything but 100-continue) before any route runs,
  // with a bare 417 of its own; this one is a problem, like every other refusal.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const expectation = request.headers.expect ?? ''
    const problem = toProblem('GW_EXPECTATION_FAILED', `Expect: ${quoted(expectation)} is not supported; send the request without it (100-continue is the one expectation served).`)
    // No route sees it, so no request line is logged for it: this one is.
    app.log.info({ statusCode: problem.status, code: problem.code, method: request.method, path: shownPath(request.url ?? ''), remoteAddress: request.socket.remoteAddress }, 'request refused before routing')
    const body = JSON.stringify(problem)
    response.writeHead(417, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body)
  })
}, { name: 'problems', fastify: '5.x' })

/** The path as the router matches it, escapes decoded ('' when they are not UTF-8: no route). */
function decodedPath (path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return ''
  }
}

/** How often a closing server looks for connections that have gone idle since it started closing. */
const IDLE_CONNECTIONS_SWEEP_MS = 250
