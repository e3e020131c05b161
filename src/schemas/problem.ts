import { Type, type Static } from 'typebox'
import { ERROR_CATALOGUE, problemType } from '../errors.js'

export const FieldErrorSchema = Type.Object({
  field: Type.String({ description: 'JSON pointer to the failing field; `querystring:`/`headers:` prefix outside the body', examples: ['/to/0'] }),
  reason: Type.String({ description: 'what is wrong with it', examples: ['must NOT have fewer than 1 characters'] })
})

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'URI naming the kind of problem', examples: ['urn:sms-gateway:problem:validation-failed'] }),
  title: Type.String({ description: 'short summary of the kind of problem' }),
  status: Type.Integer({ description: 'the HTTP status' }),
  detail: Type.String({ description: 'what went wrong with this request' }),
  code: Type.String({ enum: Object.keys(ERROR_CATALOGUE), description: 'stable machine-readable error code' }),
  errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'the failing fields (validation problems only)' }))
}, {
  $id: 'Problem',
  additionalProperties: true,
  description: 'RFC 9457 problem details, served as application/problem+json'
})

export type ProblemBody = Static<typeof ProblemSchema>

/** A response entry for a problem status, with an example drawn from the catalogue. */
export function problemResponse (code: keyof typeof ERROR_CATALOGUE, detail: string, extra: Record<string, unknown> = {}) {
  const { status, title } = ERROR_CATALOGUE[code]
  return {
    description: title,
    content: {
      'application/problem+json': {
        schema: ProblemSchema,
        example: { type: problemType(code), title, status, detail, code, ...extra }
      }
    }
  }
}
