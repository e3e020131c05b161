import { GatewayError, validationError, type FieldError } from '../errors.js'
import type { SendSmsBody } from '../schemas/sms.js'
import { PROVIDER_FLAGS } from '../serwersms/send-sms.js'
import { unsayableInProviderTime } from './send-date.js'
import type { SmsOrder } from './dispatch.js'

/** Repeated ids listed at most; the first few tell the caller what to fix. */
const MAX_REPORTED_REPEATS = 20
/** A scheduled time this far in the past is a caller's bug, not clock skew. */
const MAX_PAST_SEND_AT_MS = 5 * 60_000
/**
 * How far ahead a send may be scheduled: a year (and a day, for a leap year). SerwerSMS documents
 * no limit; but the send's signed dlr_url must stay valid until its reports can come, so a send
 * in the year 9999 would hand SerwerSMS a credential for every report until then.
 */
export const MAX_SEND_AT_AHEAD_MS = 366 * 24 * 3_600_000
/** RFC 3339's leap second (23:59:60), which Date cannot read: the SMS goes at the second after 23:59:59. */
const LEAP_SECOND = /^(\d{4}-\d{2}-\d{2}[T\s]\d{2}:\d{2}):60/i

/** Half of a surrogate pair without its other half: JSON can carry it ("\ud800"), UTF-8 cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** Control characters (C0, DEL, C1) but tab, line feed and carriage return: no phone shows them, and a NUL ends a C string upstream. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/
/**
 * Something a phone shows: neither whitespace (the schema already refuses a text of only that) nor
 * a character Unicode marks as invisible (zero-width space, joiners, soft hyphen, BOM, variation
 * selectors…). A text of only those would be billed and arrive looking empty.
 */
const VISIBLE_CHARACTER = /[^\s\p{Default_Ignorable_Code_Point}]/u

const toList = (value: string | string[]) => typeof value === 'string' ? [value] : value
const ofOne = (value: string | string[]) => typeof value !== 'string' && value.length === 1 ? value[0]! : value

/**
 * The one spelling of a body that its Idempotency-Key fingerprint is taken of: a list of one
 * recipient (or id) asks for what that single value asks for, and a text the same text whether its
 * "ó" is one character or "o" and a combining accent (it is sent composed, NFC), so a retry that
 * writes one as the other is the same request, not one to refuse with 422 — after which a caller
 * may send it again under a new key. So is an empty sender where no default is configured (both
 * are ECO+). Numbers and dates are left as written: reading them costs
 * what the order's reading costs, after the claim.
 */
export function canonicalBody (body: SendSmsBody, defaultSender?: string): SendSmsBody {
  const to = ofOne(body.to)
  const uniqueId = body.uniqueId === undefined ? undefined : ofOne(body.uniqueId)
  const text = composed(body.text)
  // Without a default sender, an empty one asks what none does (ECO+); with one, they differ.
  const noSender = body.sender === '' && defaultSender === undefined
  if (to === body.to && uniqueId === body.uniqueId && text === body.text && !noSender) return body
  const canonical = { ...body, to, text }
  if (uniqueId !== undefined) canonical.uniqueId = uniqueId
  if (noSender) delete canonical.sender
  return canonical
}

/**
 * The spelling fingerprints were taken of before the text was composed for them (until the
 * gateway of 2026-11-27), where it differs from today's: a key stored then, retried with the same
 * body, is still that request, not refused with 422. Needed only while such keys can be alive
 * (IDEMPOTENCY_TTL after that deploy, and while older replicas run beside newer ones).
 */
export function formerCanonicalBody (body: SendSmsBody, defaultSender?: string): SendSmsBody | undefined {
  const canonical = canonicalBody(body, defaultSender)
  return canonical.text === body.text ? undefined : { ...canonical, text: body.text }
}

export interface OrderLimits {
  maxRecipients: number
  defaultSender: string | undefined
  /** the zone of the provider's `date`; default Europe/Warsaw */
  timeZone?: string
}

const NON_ASCII = /[\u0080-\uffff]/

/**
 * The text in Unicode's composed form (NFC), the same text to whoever reads it: a "ü" some
 * keyboards and macOS write as "u" plus a combining diaeresis is then one character GSM-7 has,
 * and the SMS goes as GSM-7 (160 characters a part), not UCS-2 (70). ASCII is composed already.
 */
function composed (text: string): string {
  return NON_ASCII.test(text) ? text.normalize('NFC') : text
}

/** Checks what the body's schema cannot express and turns it into an order. */
export function readOrder (body: SendSmsBody, limits: OrderLimits, now: number): SmsOrder {
  const to = toList(body.to)
  const problems: FieldError[] = []
  const order: SmsOrder = { to, text: composed(body.text) }
  if (to.length > limits.maxRecipients) {
    throw new GatewayError('GW_RECIPIENTS_TOO_MANY', `${to.length} recipients exceed this gateway's limit of ${limits.maxRecipients} per request (SMS_MAX_RECIPIENTS); split them over several requests. Nothing was sent.`, { limit: limits.maxRecipients })
  }
  if (body.uniqueId !== undefined) {
    const uniqueIds = toList(body.uniqueId)
    if (uniqueIds.length !== to.length) {
      problems.push({ field: '/uniqueId', reason: `has ${uniqueIds.length} ids for ${to.length} recipients; give one per recipient, in the order of /to` })
    } else {
      const seen = new Map<string, number>()
      uniqueIds.forEach((id, index) => {
        const first = seen.get(id)
        if (first === undefined) seen.set(id, index)
        else if (problems.length < MAX_REPORTED_REPEATS) problems.push({ field: `/uniqueId/${index}`, reason: `repeats /uniqueId/${first}; each message needs its own id` })
      })
    }
    order.uniqueIds = uniqueIds
  }
  // An empty sender is none, as the provider reads it (ECO+), even where SERWERSMS_SENDER names one.
  const sender = body.sender === '' ? undefined : body.sender ?? limits.defaultSender
  if (sender !== undefined) order.sender = sender
  for (const flag of ['utf', 'speed'] as const) {
    if (body[flag] === true && sender === undefined) {
      problems.push({ field: `/${flag}`, reason: body.sender === '' ? 'works only for FULL SMS, and /sender is empty (ECO+)' : 'works only for FULL SMS, which needs a sender; set /sender (or SERWERSMS_SENDER)' })
    }
  }
  for (const flag of PROVIDER_FLAGS) {
    if (body[flag] !== undefined) order[flag] = body[flag]
  }
  if (body.sendAt !== undefined) {
    const sendAt = new Date(instantOf(body.sendAt))
    if (Number.isNaN(sendAt.getTime())) problems.push({ field: '/sendAt', reason: 'is not a valid date-time' })
    else if (sendAt.getTime() < now - MAX_PAST_SEND_AT_MS) problems.push({ field: '/sendAt', reason: 'is in the past; omit it to send now' })
    else if (sendAt.getTime() > now + MAX_SEND_AT_AHEAD_MS) problems.push({ field: '/sendAt', reason: 'is more than a year ahead, the furthest a send may be scheduled' })
    else {
      const unsayable = unsayableInProviderTime(sendAt, limits.timeZone)
      if (unsayable === undefined) order.sendAt = sendAt
      else problems.push({ field: '/sendAt', reason: unsayable })
    }
  }
  if (LONE_SURROGATE.test(body.text)) {
    problems.push({ field: '/text', reason: 'contains a lone UTF-16 surrogate, which is no character; send the text as valid Unicode' })
  }
  const control = CONTROL_CHARACTER.exec(body.text)
  if (control !== null) {
    const code = `U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`
    problems.push({ field: '/text', reason: `contains the control character ${code} at ${control.index}, which an SMS cannot show; only tab and line breaks are allowed` })
  }
  if (!VISIBLE_CHARACTER.test(body.text)) {
    problems.push({ field: '/text', reason: 'has no visible character, only whitespace and invisible ones such as U+200B (zero-width space); the SMS would arrive looking empty' })
  }
  if (problems.length > 0) throw validationError(problems)
  return order
}

/** The instant of an RFC 3339 date-time, a leap second included; NaN when Date cannot read it. */
function instantOf (dateTime: string): number {
  const leap = LEAP_SECOND.exec(dateTime)
  return leap === null ? Date.parse(dateTime) : Date.parse(`${leap[1]!}:59${dateTime.slice(leap[0].length)}`) + 1000
}
