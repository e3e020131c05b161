import type { IncomingMessage, Server } from 'node:http'
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { parseBoundedQuery } from './dlr/report-encoding.js'
import { GatewayLogController, processLoggerOptions } from './logging.js'
import { answerClientError, sendProblem, toGatewayError } from './plugins/problems.js'
import { MAX_UNIQUE_ID_LENGTH } from './schemas/patterns.js'
import { MAX_PHONE_LENGTH } from './schemas/sms.js'
import { boundErrorsOfLongLists } from './validation.js'

/** What a list item takes besides its text, written as JSON.stringify(body, null, 2) writes it: quotes, a comma, a line break and its indent. */
const LIST_ITEM_OVERHEAD = '"",\n    '.length
/**
 * Room for the largest allowed recipient list in ASCII, indented or not: each recipient's longest
 * number and longest uniqueId, each on a line of its own (98 bytes). At 40 bytes twice, a list
 * within SMS_MAX_RECIPIENTS, of long numbers with long ids, was refused with 413.
 */
const BYTES_PER_RECIPIENT = (MAX_PHONE_LENGTH + LIST_ITEM_OVERHEAD) + (MAX_UNIQUE_ID_LENGTH + LIST_ITEM_OVERHEAD)
/** Room for the rest: the longest text with every character escaped (`\uXXXX`; 60,000 bytes if every one is beyond the BMP), and the other fields. */
const BASE_BODY_LIMIT = 64 * 1024
/** Longest a client may take to send its request; slow-loris connections are cut after it. */
export const REQUEST_TIMEOUT_MS = 30_000
/**
 * Idle keep-alive sockets are closed after this: longer than common load-balancer idle timeouts
 * (60 s), so that the balancer, not the gateway, closes an idle connection; shorter, the gateway
 * could close one just as the balancer reuses it, and the caller would get a 502.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000
export const MAX_HEADER_BYTES = 16 * 1024
/** How often Node looks for requests past REQUEST_TIMEOUT_MS (its default, 30 s, let them run to 60). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000

/** Trace and correlation ids (UUIDs, W3C trace ids, ULIDs…): short, and nothing a log reader could misread. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
let lastRequestId = 0

/** The caller's X-Request-Id when it looks like an id, else the gateway's own, as fastify numbers them. */
export function requestIdFor (request: IncomingMessage): string {
  const header = request.headers['x-request-id']
  if (typeof header === 'string' && CALLER_REQUEST_ID.test(header)) return header
  lastRequestId = (lastRequestId + 1) % Number.MAX_SAFE_INTEGER
  return `req-${lastRequestId.toString(36)}`
}

export function bodyLimitFor (config: Config): number {
  return BASE_BODY_LIMIT + config.sending.maxRecipients * BYTES_PER_RECIPIENT
}

/**
 * fastify's own response serializers (fast-json-stringify), each compiled when its answer is
 * first given instead of when the route is registered. A route has one per status it documents,
 * most for answers that are rare (413, 415, 503…) or never come on a given replica, and compiling
 * them up front was ~5 MB of a freshly started gateway's 81 MB (bench/README.md).
 * The first answer of each kind pays the compilation once (a few milliseconds); every schema is
 * still compiled in the tests, which give every documented answer.
 */
export function compileSerializersOnFirstUse (buildSerializer: SerializerFactory = SerializerSelector()): SerializerFactory {
  return (externalSchemas, options) => {
    const compile = buildSerializer(externalSchemas, options)
    return (route) => {
      let serialize: ((document: unknown) => string) | undefined
      return (document) => (serialize ??= compile(route))(document)
    }
  }
}

/**
 * How the HTTP server behaves, shared by the process and the tests so both run the same
 * validation rules: Ajv must neither coerce types nor drop unknown fields (fastify's defaults
 * do both) — a wrong body is refused, never silently changed.
 */
export function serverOptions (config: Config, overrides: Partial<FastifyServerOptions> = {}): FastifyServerOptions {
  return {
    logger: processLoggerOptions(config.logLevel),
    logController: new GatewayLogController(),
    bodyLimit: bodyLimitFor(config),
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // querystringParser: fastify's own parser for a query of no more fields than a delivery report
    // has (/dlr is the one route that reads its query); of more, only the signature is read, for
    // /dlr to check and refuse (src/dlr/report-encoding.ts).
    routerOptions: { maxParamLength: 200, querystringParser: parseBoundedQuery },
    // The problems plugin answers 503 itself while closing, as a problem document.
    return503OnClosing: false,
    // Errors fastify raises before routing (a malformed URL…) are problems like every other.
    frameworkErrors: (error, request, reply) => { sendProblem(reply, toGatewayError(error, request)) },
    clientErrorHandler: answerClientError,
    forceCloseConnections: 'idle',
    // A caller's X-Request-Id is taken when it looks like an id; anyone may send one (/dlr and the
    // health routes need no key), and an unbounded one would go into every line of its request.
    requestIdHeader: false,
    genReqId: requestIdFor,
    ajv: {
      // validateSchema: checking the route schemas against the JSON Schema meta-schema at every
      // start compiled that meta-schema (~25 ms of a cold start, ~75 ms with the config's); the
      // schemas are fixed when the gateway is built, so test/server/schemas.test.ts checks them.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true, validateSchema: false }
    },
    schemaController: { compilersFactory: { buildSerializer: compileSerializersOnFirstUse(), buildValidator: boundErrorsOfLongLists() } },
    // fastify hands `http` to http.createServer but does not type it. The timeouts are given here
    // too: fastify sets requestTimeout only once the server exists, and Node 20 then holds a
    // request's headers to it but not its body, so a body trickling in held its connection for
    // good. A missing Host is the problems plugin's to refuse (Node's own answer is a bare 400).
    ...{
      http: {
        maxHeaderSize: MAX_HEADER_BYTES,
        connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        headersTimeout: REQUEST_TIMEOUT_MS,
        requireHostHeader: false
      }
    } as Partial<FastifyServerOptions>,
    ...overrides
  }
}

/**
 * The HTTP rules http.createServer takes no option for, set on a server once it exists (both
 * listeners'): no bound on the count of headers but MAX_HEADER_BYTES. Node's default of 2,000
 * dropped the headers after it unseen, a repeated Authorization or an Idempotency-Key among them,
 * while a proxy in front read them all.
 *
 * Node's httpAllowHalfOpen stays off: a caller's FIN is how the gateway tells that it hung up
 * (its answer's log line says `callerLeft`, and a closing gateway releases a claim whose caller
 * went), and TCP does not tell a half-close from a hang-up until a write fails. A caller that
 * half-closes after sending loses its answer, as README says.
 */
export function applyConnectionRules (server: Server): void {
  server.maxHeadersCount = 0
}
