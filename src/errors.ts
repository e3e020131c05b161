import { shortened } from './shortened.js'

/**
 * The one catalogue of errors the gateway answers with. Each code is stable: callers may switch
 * on it. Bodies are RFC 9457 problem details (`application/problem+json`).
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8'

export const ERROR_CATALOGUE = {
  GW_VALIDATION_FAILED: { status: 400, title: 'The request is invalid' },
  GW_BODY_MALFORMED: { status: 400, title: 'The request body is not valid JSON in UTF-8' },
  GW_HTTP_MALFORMED: { status: 400, title: 'The request is not valid HTTP' },
  GW_AUTH_MISSING: { status: 401, title: 'An API key is required' },
  GW_AUTH_INVALID: { status: 401, title: 'The API key is not valid' },
  GW_METRICS_AUTH: { status: 401, title: 'A metrics token is required' },
  GW_DLR_SIGNATURE_MISSING: { status: 401, title: 'The delivery report is not signed' },
  GW_DLR_SIGNATURE_INVALID: { status: 403, title: 'The delivery report signature is not valid' },
  GW_DLR_EXPIRED: { status: 403, title: 'The delivery report URL has expired' },
  GW_NOT_FOUND: { status: 404, title: 'No such resource' },
  GW_METHOD_NOT_ALLOWED: { status: 405, title: 'The resource does not take this method' },
  GW_REQUEST_TIMEOUT: { status: 408, title: 'The request took too long to arrive' },
  GW_IDEMPOTENCY_IN_FLIGHT: { status: 409, title: 'A request with this Idempotency-Key is still in progress' },
  GW_IDEMPOTENCY_OUTCOME_UNKNOWN: { status: 409, title: 'The outcome of the first request with this Idempotency-Key could not be confirmed' },
  GW_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  GW_RECIPIENTS_TOO_MANY: { status: 413, title: 'Too many recipients in one request' },
  GW_MEDIA_TYPE_UNSUPPORTED: { status: 415, title: 'Unsupported media type' },
  GW_RANGE_NOT_SATISFIABLE: { status: 416, title: 'The requested range cannot be served' },
  GW_EXPECTATION_FAILED: { status: 417, title: 'The expectation cannot be met' },
  GW_PROVIDER_REFUSED: { status: 422, title: 'SerwerSMS refused the request' },
  GW_IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The Idempotency-Key was already used with a different request' },
  GW_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  GW_HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  GW_INTERNAL: { status: 500, title: 'Internal error' },
  GW_PROVIDER_AUTH_FAILED: { status: 502, title: 'SerwerSMS rejected the gateway\'s credentials or permissions' },
  GW_UPSTREAM_UNREACHABLE: { status: 502, title: 'SerwerSMS could not be reached' },
  GW_UPSTREAM_BAD_RESPONSE: { status: 502, title: 'SerwerSMS answered with something the gateway does not understand' },
  GW_IDEMPOTENCY_STORE_UNAVAILABLE: { status: 503, title: 'The idempotency store is unavailable' },
  GW_SHUTTING_DOWN: { status: 503, title: 'The gateway is shutting down' },
  GW_BUSY: { status: 503, title: 'The gateway has as many recipients in flight as it takes' },
  GW_UPSTREAM_TIMEOUT: { status: 504, title: 'SerwerSMS did not answer in time' }
} as const satisfies Record<string, { status: number, title: string }>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

/**
 * Codes that only appear on one recipient of an answer (`messages[].error`), never as a problem's:
 * the gateway itself kept that recipient from being sent (the provider's own codes are numbers).
 */
export const RECIPIENT_ERRORS = {
  GW_PHONE_INVALID: 'Not a valid phone number (international, or national for DEFAULT_REGION); not sent.',
  GW_RECIPIENT_REPEATED: 'The same number as an earlier recipient: not sent separately, its fate is that recipient\'s.'
} as const satisfies Record<string, string>

export type RecipientErrorCode = keyof typeof RECIPIENT_ERRORS

export interface FieldError {
  /** JSON pointer into the request part, e.g. `/to/3` */
  field: string
  reason: string
}

/** A step of a pointer is cut to this many characters: a body may hold a key of hundreds of kilobytes. */
const LONGEST_POINTER_STEP = 64

/**
 * A name as one JSON-pointer step (RFC 6901): an unknown field "to/0" must not point at the first
 * recipient. Cut short when long: a problem (and its log line) names the field, it need not copy it.
 */
export function pointerToken (name: string): string {
  return shortened(name.replaceAll('~', '~0').replaceAll('/', '~1'), LONGEST_POINTER_STEP)
}

/** Problem fields beyond the RFC's own; validation lists its fields, sends their per-recipient outcomes. */
export type ProblemExtensions = Record<string, unknown> & { errors?: FieldError[] }

export interface Problem extends ProblemExtensions {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  instance?: string
}

export class GatewayError extends Error {
  override name = 'GatewayError'
  readonly code: ErrorCode
  readonly status: number
  readonly extensions: ProblemExtensions
  readonly headers: Record<string, string>

  constructor (code: ErrorCode, detail: string, extensions: ProblemExtensions = {}, headers: Record<string, string> = {}) {
    super(detail)
    this.code = code
    this.status = ERROR_CATALOGUE[code].status
    this.extensions = extensions
    this.headers = headers
  }
}

export function problemType (code: ErrorCode): string {
  return `urn:sms-gateway:problem:${code.slice(3).toLowerCase().replaceAll('_', '-')}`
}

export function toProblem (code: ErrorCode, detail: string, extensions: ProblemExtensions = {}): Problem {
  const { status, title } = ERROR_CATALOGUE[code]
  return { type: problemType(code), title, status, detail, code, ...extensions }
}

export function validationError (errors: FieldError[], detail?: string): GatewayError {
  const first = errors[0]
  const summary = detail ?? (first === undefined ? 'The request is invalid.' : `${first.field || 'body'}: ${first.reason}`)
  return new GatewayError('GW_VALIDATION_FAILED', summary, { errors })
}
