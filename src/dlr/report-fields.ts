/**
 * Reads a delivery report's fields under the names the seed's placeholders suggest and those the
 * provider's older integrations used, from the query string or a form/JSON body.
 * @see ../../../shared/docs/serwersms-api.md "Delivery reports"
 */
export interface DeliveryReportFields {
  messageId: string
  state: string
  date?: string
  reason?: string
}

const FIELD_NAMES = {
  messageId: ['smsid', 'id', 'sms_id'],
  state: ['stan', 'status', 'state'],
  date: ['data', 'date'],
  reason: ['przyczyna', 'reason']
} as const

/** The most any field may carry; the provider's ids and words are short. */
const MAX_FIELD_LENGTH = 200
const UNREPLACED_PLACEHOLDER = /^#[A-Z]+#$/

export type ReportReading = { ok: true, fields: DeliveryReportFields } | { ok: false, field: string, problem: string }

function pick (sources: ReadonlyArray<Record<string, unknown>>, names: readonly string[]): string | undefined | null {
  for (const source of sources) {
    for (const name of names) {
      if (!Object.hasOwn(source, name)) continue
      const value = source[name]
      // A JSON number is taken only when its text is exact: 1.2e22 would name another message.
      if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? String(value) : null
      if (typeof value !== 'string' || value.length > MAX_FIELD_LENGTH) return null
      const trimmed = value.trim()
      return trimmed === '' || UNREPLACED_PLACEHOLDER.test(trimmed) ? undefined : trimmed
    }
  }
  return undefined
}

export function readReportFields (...sources: ReadonlyArray<unknown>): ReportReading {
  const objects = sources.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && !Array.isArray(s))
  const messageId = pick(objects, FIELD_NAMES.messageId)
  const state = pick(objects, FIELD_NAMES.state)
  const date = pick(objects, FIELD_NAMES.date)
  const reason = pick(objects, FIELD_NAMES.reason)
  if (messageId === null || state === null || date === null || reason === null) {
    const field = messageId === null ? 'smsid' : state === null ? 'stan' : date === null ? 'data' : 'przyczyna'
    return { ok: false, field, problem: 'is repeated, not text (or a whole number), or too long' }
  }
  if (messageId === undefined) return { ok: false, field: 'smsid', problem: 'the message id is missing' }
  if (state === undefined) return { ok: false, field: 'stan', problem: 'the delivery state is missing' }
  const fields: DeliveryReportFields = { messageId, state }
  if (date !== undefined) fields.date = date
  if (reason !== undefined) fields.reason = reason
  return { ok: true, fields }
}
