import { Type, type Static, type TSchema } from 'typebox'
import { ERROR_CATALOGUE, PROBLEM_CONTENT_TYPE, problemType, type ErrorCode, type ProblemExtensions } from '../errors.js'
import { RetryAfterHeader } from './headers.js'

/** The media type of every problem response, without the charset fastify matches on anyway. */
export const PROBLEM_MEDIA_TYPE = PROBLEM_CONTENT_TYPE.split(';', 1)[0] as 'application/problem+json'

export const FieldErrorSchema = Type.Object({
  field: Type.String({ description: 'JSON pointer to the failing field; `querystring:`/`headers:` prefix outside the body', examples: ['/sendAt'] }),
  reason: Type.String({ description: 'what is wrong with it', examples: ['must match format "date-time"'] })
})

export const PROBLEM_FIELDS = {
  type: Type.String({ description: 'URI naming the kind of problem; one per `code`', examples: ['urn:sms-gateway:problem:validation-failed'] }),
  title: Type.String({ description: 'short summary of the kind of problem', examples: [ERROR_CATALOGUE.GW_VALIDATION_FAILED.title] }),
  status: Type.Integer({ description: 'the HTTP status', examples: [400] }),
  detail: Type.String({ description: 'what went wrong with this request, and what to do about it', examples: ['/sendAt: must match format "date-time"'] }),
  code: Type.String({ enum: Object.keys(ERROR_CATALOGUE), description: 'stable machine-readable error code: switch on this' }),
  errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'the failing fields (validation problems only)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'the limit exceeded: recipients per request (GW_RECIPIENTS_TOO_MANY only)', examples: [10000] }))
}

export const ProblemSchema = Type.Object(PROBLEM_FIELDS, {
  $id: 'Problem',
  additionalProperties: true,
  description: 'RFC 9457 problem details, served as application/problem+json'
})

export type ProblemBody = Static<typeof ProblemSchema>

/** One way a status can come about, shown as a named example of its response. */
export interface ProblemExample {
  code: ErrorCode
  detail: string
  extensions?: ProblemExtensions
}

export interface ProblemResponseOptions {
  /** a Problem with more fields (default ProblemSchema) */
  schema?: TSchema
  /** response headers, by their canonical name */
  headers?: Record<string, TSchema>
}

/**
 * The response entry of one problem status: its schema under application/problem+json, a
 * description listing the codes that answer with it, and an example of each drawn from the catalogue.
 */
export function problemResponse (examples: ProblemExample | readonly ProblemExample[], options: ProblemResponseOptions = {}) {
  const cases = Array.isArray(examples) ? examples as readonly ProblemExample[] : [examples as ProblemExample]
  const statuses = new Set(cases.map(({ code }) => ERROR_CATALOGUE[code].status))
  if (statuses.size !== 1) throw new Error(`one response documents one status, not ${[...statuses].join(' and ')}`)
  // Examples are keyed by code: a second of one code would replace the first.
  if (new Set(cases.map(({ code }) => code)).size !== cases.length) throw new Error('one response documents each code once')
  return {
    description: cases.map(({ code }) => `- \`${code}\`: ${ERROR_CATALOGUE[code].title}`).join('\n'),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    content: {
      [PROBLEM_MEDIA_TYPE]: {
        schema: options.schema ?? ProblemSchema,
        examples: Object.fromEntries(cases.map(({ code, detail, extensions }) => {
          const { status, title } = ERROR_CATALOGUE[code]
          return [code, { summary: title, value: { type: problemType(code), title, status, detail, code, ...extensions } }]
        }))
      }
    }
  }
}

/**
 * What every route may answer once the gateway has begun to shut down (the problems plugin's
 * onRequest hook): a request that reaches it then, on a connection still open, is turned away.
 */
export function shuttingDownResponse () {
  return problemResponse({ code: 'GW_SHUTTING_DOWN', detail: 'The gateway is shutting down; retry on another instance.' }, { headers: RetryAfterHeader })
}
