import { Type, type Static } from 'typebox'
import { PROVIDER_MAX_RECIPIENTS } from '../config.js'
import { SENDER_PATTERN } from '../serwersms/send-sms.js'

/** Longest text accepted; the provider refuses what it cannot send (3102) below that. */
export const MAX_TEXT_LENGTH = 5000
const MAX_PHONE_LENGTH = 32

const PhoneSchema = Type.String({ minLength: 1, maxLength: MAX_PHONE_LENGTH, description: 'phone number, international (+48500600700) or national for DEFAULT_REGION', examples: ['+48500600700'] })
const UniqueIdSchema = Type.String({ pattern: '^[A-Za-z0-9]{3,50}$', description: 'your own message id: 3–50 letters and digits', examples: ['order4711'] })

export const SendSmsBodySchema = Type.Object({
  to: Type.Union([
    PhoneSchema,
    Type.Array(PhoneSchema, { minItems: 1, maxItems: PROVIDER_MAX_RECIPIENTS })
  ], { description: 'one recipient or a list; duplicates (after normalisation) receive one SMS', examples: ['+48500600700'] }),
  text: Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH, pattern: '\\S', description: 'message text (UTF-8)', examples: ['Your code is 4711'] }),
  sender: Type.Optional(Type.String({
    pattern: SENDER_PATTERN,
    description: 'approved sender name or number (FULL SMS); overrides SERWERSMS_SENDER. Without any sender an ECO+ SMS is sent',
    examples: ['INFORMACJA']
  })),
  flash: Type.Optional(Type.Boolean({ description: 'flash SMS, shown without being saved' })),
  test: Type.Optional(Type.Boolean({ description: 'validate and answer as usual, but send nothing (provider test mode)' })),
  speed: Type.Optional(Type.Boolean({ description: 'priority channel (extra charge; FULL SMS only)' })),
  vcard: Type.Optional(Type.Boolean({ description: 'the text is a vCard' })),
  utf: Type.Optional(Type.Boolean({ description: 'send national characters (70 instead of 160 characters per SMS; FULL SMS only). Omitted: set when the text has characters outside GSM-7 and there is a sender' })),
  sendAt: Type.Optional(Type.String({ format: 'date-time', description: 'schedule the send (RFC 3339); passed to the provider in Polish local time', examples: ['2026-12-24T18:00:00+01:00'] })),
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
  code: Type.Union([Type.Integer(), Type.String()], { description: 'provider error code (e.g. 3103), or the gateway\'s GW_… code when the provider never answered for it' }),
  message: Type.String()
})

export const RecipientResultSchema = Type.Object({
  phone: Type.String({ description: 'the number as sent (E.164), or as given when it is not a valid number' }),
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

export const SendSmsResultSchema = Type.Object({
  ...SendSmsCountsSchema,
  messages: Type.Array(RecipientResultSchema, { description: 'one entry per distinct recipient, in the order given' })
}, {
  examples: [{
    queued: 1,
    unsent: 1,
    failed: 0,
    unknown: 0,
    parts: 1,
    messages: [
      { id: '1c142d81c7', phone: '+48500600700', status: 'queued', parts: 1 },
      { phone: '45616', status: 'unsent', error: { code: 3103, message: 'Incorrect number' } }
    ]
  }]
})
export type SendSmsResult = Static<typeof SendSmsResultSchema>
