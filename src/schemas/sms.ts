import { Type, type Static } from 'typebox'
import { PROVIDER_MAX_RECIPIENTS } from '../config.js'
import { RECIPIENT_ERRORS } from '../errors.js'
import { NOT_BLANK_PATTERN, PRINTABLE_ASCII_PATTERN, SENDER_OR_EMPTY_PATTERN, UNIQUE_ID_PATTERN } from './patterns.js'
import { PROBLEM_FIELDS } from './problem.js'

/** Longest text accepted; the provider refuses what it cannot send (3102) below that. */
export const MAX_TEXT_LENGTH = 5000
export const MAX_PHONE_LENGTH = 32
/** IETF Idempotency-Key: any printable ASCII, bounded so a key cannot bloat the store. */
const MAX_IDEMPOTENCY_KEY_LENGTH = 255

export const SendSmsHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
    pattern: PRINTABLE_ASCII_PATTERN,
    // No example: Swagger UI would fill it in, and every "Try it out" would replay the first answer.
    description: 'makes retrying safe: a repeat with the same key and body within IDEMPOTENCY_TTL (24 hours by default) sends nothing and replays the first answer (with `Idempotent-Replayed: true`); only a first request that provably sent nothing (refused before sending, or a problem answer with no recipient `unknown`) frees its key, and a repeat then runs afresh. Keys are per client; 1–255 printable ASCII characters, e.g. a new UUID per message'
  }))
}, { additionalProperties: true })

const PhoneSchema = Type.String({ minLength: 1, maxLength: MAX_PHONE_LENGTH, description: 'phone number, international (+48500600700) or national for DEFAULT_REGION', examples: ['+48500600700'] })
const UniqueIdSchema = Type.String({ pattern: UNIQUE_ID_PATTERN, description: 'your own message id: 3–50 letters and digits', examples: ['order4711'] })

export const SendSmsBodySchema = Type.Object({
  to: Type.Union([
    PhoneSchema,
    Type.Array(PhoneSchema, { minItems: 1, maxItems: PROVIDER_MAX_RECIPIENTS })
  ], { description: 'one recipient or a list; duplicates (after normalisation) receive one SMS', examples: ['+48500600700'] }),
  text: Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH, pattern: NOT_BLANK_PATTERN, description: 'message text (UTF-8) with at least one visible character; control characters other than tab and line breaks are refused', examples: ['Your code is 4711'] }),
  sender: Type.Optional(Type.String({
    pattern: SENDER_OR_EMPTY_PATTERN,
    description: 'approved sender name or number (FULL SMS); overrides SERWERSMS_SENDER. Without any sender, or with an empty one (which overrides SERWERSMS_SENDER too), an ECO+ SMS is sent',
    examples: ['INFORMACJA']
  })),
  flash: Type.Optional(Type.Boolean({ description: 'flash SMS, shown without being saved' })),
  test: Type.Optional(Type.Boolean({ description: 'validate and answer as usual, but send nothing (provider test mode)' })),
  speed: Type.Optional(Type.Boolean({ description: 'priority channel (extra charge; FULL SMS only)' })),
  vcard: Type.Optional(Type.Boolean({ description: 'the text is a vCard' })),
  utf: Type.Optional(Type.Boolean({ description: 'send national characters (70 instead of 160 characters per SMS; FULL SMS only). Omitted: set when the text has characters outside GSM-7 and there is a sender' })),
  sendAt: Type.Optional(Type.String({ format: 'date-time', description: 'schedule the send (RFC 3339), at most a year ahead; passed to the provider in its local time (SERWERSMS_TIME_ZONE, Polish by default)', examples: ['2026-12-24T18:00:00+01:00'] })),
  uniqueId: Type.Optional(Type.Union([
    UniqueIdSchema,
    Type.Array(UniqueIdSchema, { minItems: 1, maxItems: PROVIDER_MAX_RECIPIENTS })
  ], { description: 'your own id for each recipient, in the order of `to` (same count)' }))
}, {
  additionalProperties: false,
  examples: [{ to: '+48500600700', text: 'Your code is 4711' }]
})
export type SendSmsBody = Static<typeof SendSmsBodySchema>

export const RECIPIENT_STATUSES = ['queued', 'unsent', 'failed', 'unknown'] as const
export type RecipientStatus = typeof RECIPIENT_STATUSES[number]

export const RecipientErrorSchema = Type.Object({
  // A type list, not a union (anyOf): the response serializer writes it with a typeof check,
  // where an anyOf would make it carry an Ajv instance of its own for every status code.
  code: Type.Unsafe<number | string>({ type: ['integer', 'string'], description: 'the provider\'s error code (e.g. 3103; a code it sends as text stays text), or the gateway\'s GW_… code: GW_PHONE_INVALID and GW_RECIPIENT_REPEATED for a recipient it did not send itself, a problem code when the provider never answered for it' }),
  message: Type.String()
})

export const RecipientResultSchema = Type.Object({
  phone: Type.String({ description: 'the number in E.164, or as given when it is not a valid number' }),
  status: Type.String({
    enum: RECIPIENT_STATUSES,
    description: 'queued: accepted by the provider (has id). unsent: refused for this recipient. failed: its batch was refused before sending; safe to retry. unknown: its batch may or may not have been sent; do not retry blindly'
  }),
  id: Type.Optional(Type.String({ description: 'the provider\'s message id (for delivery reports and status look-ups)' })),
  parts: Type.Optional(Type.Integer({ description: 'SMS parts billed' })),
  uniqueId: Type.Optional(Type.String()),
  error: Type.Optional(RecipientErrorSchema)
})
export type RecipientResult = Static<typeof RecipientResultSchema>

const countField = (what: string) => Type.Integer({ minimum: 0, description: what })

export const SendSmsCountsSchema = {
  queued: countField('recipients the provider accepted'),
  unsent: countField('recipients refused one by one (invalid number…)'),
  failed: countField('recipients whose batch was refused before sending'),
  unknown: countField('recipients whose batch may or may not have been sent'),
  parts: countField('SMS parts queued')
}

const MessagesSchema = Type.Array(RecipientResultSchema, { description: 'one entry per distinct recipient, in the order given, and one for each repeat of a number that carries a uniqueId of its own (not sent again: GW_RECIPIENT_REPEATED)' })

/** Examples of the documented answers of POST /sms, shaped as the route answers. */

/** An example answer for one recipient whose batch ended as `status`. */
function outcomeOfOne (status: 'failed' | 'unknown', error: { code: number | string, message: string }) {
  return {
    queued: 0,
    unsent: 0,
    failed: status === 'failed' ? 1 : 0,
    unknown: status === 'unknown' ? 1 : 0,
    parts: 0,
    messages: [{ phone: '+48500600700', status, error }]
  }
}

export const SEND_SMS_EXAMPLES = {
  accepted: {
    queued: 1,
    unsent: 1,
    failed: 0,
    unknown: 0,
    parts: 1,
    messages: [
      { id: '1c142d81c7', phone: '+48500600700', status: 'queued', parts: 1 },
      { phone: '45616', status: 'unsent', error: { code: 'GW_PHONE_INVALID', message: RECIPIENT_ERRORS.GW_PHONE_INVALID } }
    ]
  },
  partial: {
    queued: 1,
    unsent: 0,
    failed: 0,
    unknown: 1,
    parts: 1,
    messages: [
      { id: '1c142d81c7', phone: '+48500600700', status: 'queued', parts: 1 },
      { phone: '+48600700800', status: 'unknown', error: { code: 'GW_UPSTREAM_TIMEOUT', message: 'SerwerSMS did not answer in time; the messages may have been sent.' } }
    ]
  },
  unreachable: outcomeOfOne('failed', { code: 'GW_UPSTREAM_UNREACHABLE', message: 'SerwerSMS could not be reached (ECONNREFUSED); nothing was sent.' }),
  timeout: outcomeOfOne('unknown', { code: 'GW_UPSTREAM_TIMEOUT', message: 'SerwerSMS did not answer in time; the messages may have been sent.' }),
  withdrawn: outcomeOfOne('failed', { code: 'GW_SHUTTING_DOWN', message: 'The gateway shut down before this recipient was sent.' }),
  badResponse: outcomeOfOne('unknown', { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'SerwerSMS answered with HTTP 500 without an error body; the messages may have been sent.' }),
  refused: {
    providerError: { code: 3102, type: 'SendError', message: 'Message too long' },
    ...outcomeOfOne('failed', { code: 3102, message: 'Message too long' })
  },
  accountRefused: {
    providerError: { code: 1001, type: 'InvalidUser', message: 'Wrong login or password' },
    ...outcomeOfOne('failed', { code: 1001, message: 'Wrong login or password' })
  }
}

/** Present, true, only in the answer of a test send: nothing in it reached a phone. */
const TestField = Type.Optional(Type.Literal(true, { description: 'only in the answer of a call with `test: true`: SerwerSMS checked it and sent nothing. Its `queued` recipients and their ids have no SMS behind them, and no delivery report will come for them' }))

export const SendSmsResultSchema = Type.Object({
  ...SendSmsCountsSchema,
  test: TestField,
  messages: MessagesSchema
}, {
  $id: 'SendSmsResult',
  description: 'what became of each recipient',
  examples: [SEND_SMS_EXAMPLES.accepted]
})
export type SendSmsResult = Static<typeof SendSmsResultSchema>

/** A failed send's problem: when no batch was accepted it still tells what became of each recipient. */
export const SendSmsProblemSchema = Type.Object({
  ...PROBLEM_FIELDS,
  ...Type.Partial(Type.Object(SendSmsCountsSchema)).properties,
  test: TestField,
  messages: Type.Optional(MessagesSchema),
  providerError: Type.Optional(Type.Object({
    code: Type.Unsafe<number | string>({ type: ['integer', 'string'], description: 'SerwerSMS error code (a code it sends as text stays text)', examples: [3102] }),
    type: Type.String({ examples: ['SendError'] }),
    message: Type.String({ examples: ['Message too long'] })
  }, { description: 'the provider\'s own error, when it refused the request' }))
}, {
  $id: 'SendSmsProblem',
  additionalProperties: true,
  description: 'a Problem; when the send was attempted, also the counts and per-recipient outcomes of a send result'
})
