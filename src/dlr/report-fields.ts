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
  /** the optional fields sent but unreadable (as named when sent): the report is taken without them */
  setAside?: string[]
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
const PLACEHOLDER_MARK = '#'.charCodeAt(0)

/** `source`: the position, among the sources given, of the one the refused field was read from */
export type ReportReading = { ok: true, fields: DeliveryReportFields } | { ok: false, field: string, problem: string, source?: number }

/** A field that is there but cannot be used: the name it came under, its source's position, and its text when it was only too long. */
interface Unusable { name: string, source: number, tooLong?: string }

/**
 * A field's value from the first source that has it: its text, undefined when absent, or — when it
 * is there but unusable — where it was found, so that the refusal names the field as it was sent.
 * A blank value, a JSON null or an unfilled placeholder is no value: the next name, then the next
 * source, is looked at.
 */
function pick (sources: ReadonlyArray<unknown>, names: readonly string[]): string | undefined | Unusable {
  for (let index = 0; index < sources.length; index++) {
    const source = sources[index]
    if (typeof source !== 'object' || source === null || Array.isArray(source)) continue
    for (const name of names) {
      if (!Object.hasOwn(source, name)) continue
      const value = (source as Record<string, unknown>)[name]
      if (value === null) continue
      // A JSON number is taken only when its text is exact: 1.2e22 would name another message.
      if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? String(value) : { name, source: index }
      if (typeof value !== 'string') return { name, source: index }
      if (value.length > MAX_FIELD_LENGTH) return { name, source: index, tooLong: value }
      const trimmed = value.trim()
      // The pattern is tried only on what could be a placeholder: this runs for every field of every report.
      if (trimmed !== '' && !(trimmed.charCodeAt(0) === PLACEHOLDER_MARK && UNREPLACED_PLACEHOLDER.test(trimmed))) return trimmed
    }
  }
  return undefined
}

function unusable ({ name, source }: Unusable): ReportReading {
  return { ok: false, field: name, problem: 'is repeated, not text (or a whole number), or too long', source }
}

/**
 * The sources that speak of the first one's message: a later source naming another message id
 * (one that could be read) is left out whole, so that one report is never made of two (the signed
 * URL's id and state, another message's reason).
 */
function aboutOneMessage (sources: ReadonlyArray<unknown>): ReadonlyArray<unknown> {
  // Most reports come in one source (a GET's query, no body): nothing to compare, nothing allocated.
  if (!sources.some((source, index) => index > 0 && typeof source === 'object' && source !== null)) return sources
  const first = pick([sources[0]], FIELD_NAMES.messageId)
  if (typeof first !== 'string') return sources
  return sources.map((source, index) => {
    const id = index === 0 ? first : pick([source], FIELD_NAMES.messageId)
    return typeof id === 'string' && id !== first ? undefined : source
  })
}

/**
 * Reads the report's fields from the sources in order: the signed one (the URL the gateway issued,
 * as the provider filled it in) first, so that a body fills in only what it lacks, and only when
 * it is about the same message.
 */
export function readReportFields (...given: ReadonlyArray<unknown>): ReportReading {
  const sources = aboutOneMessage(given)
  const messageId = pick(sources, FIELD_NAMES.messageId)
  const state = pick(sources, FIELD_NAMES.state)
  const date = pick(sources, FIELD_NAMES.date)
  const reason = pick(sources, FIELD_NAMES.reason)
  if (typeof messageId === 'object') return unusable(messageId)
  if (typeof state === 'object') return unusable(state)
  if (messageId === undefined) return { ok: false, field: 'smsid', problem: 'the message id is missing' }
  if (state === undefined) return { ok: false, field: 'stan', problem: 'the delivery state is missing' }
  const fields: DeliveryReportFields = { messageId, state }
  // The message and its state are the report; a date (only logged) or a reason that cannot be read
  // does not lose it. A reason too long is read from its start: its words are mapped as any other's.
  if (typeof date === 'string') fields.date = date
  else if (date !== undefined) fields.setAside = [date.name]
  if (typeof reason === 'string') fields.reason = reason
  else if (reason?.tooLong !== undefined) fields.reason = reason.tooLong.slice(0, MAX_FIELD_LENGTH).trim()
  else if (reason !== undefined) (fields.setAside ??= []).push(reason.name)
  return { ok: true, fields }
}
