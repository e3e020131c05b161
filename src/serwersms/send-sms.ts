/**
 * The wire format of SerwerSMS `messages/send_sms`, and how to read its answers.
 * @see ../../../shared/seeds/serwersms-send_sms.txt
 */
import { shortened } from '../shortened.js'

export const SEND_SMS_PATH = 'messages/send_sms'
/** Official clients name themselves in `system`; so does the gateway. */
export const SYSTEM_NAME = 'sms-gateway'
/**
 * An approved alphanumeric name (up to 11 characters, with a letter) or a 4- or 9-digit number:
 * the seed allows numbers of those two lengths only, so 5 digits is not a name either, and a
 * name of spaces or dots names nothing. No space at either end: no approved name has one, and
 * the provider would refuse the whole batch for a name it does not know.
 */
export const SENDER_PATTERN = '^(?:(?=.*[A-Za-z])(?! )[A-Za-z0-9 .\\-]{1,11}(?<! )|\\d{4}|\\d{9})$'

/** The provider's switches, named as it names them. */
export const PROVIDER_FLAGS = ['flash', 'test', 'speed', 'vcard', 'utf'] as const
export type ProviderFlags = { [flag in typeof PROVIDER_FLAGS[number]]?: boolean }

export interface SendSmsRequest extends ProviderFlags {
  system: string
  details: true
  phone: string[]
  text: string
  sender?: string
  /** `YYYY-MM-DD HH:MM:SS`, provider local time */
  date?: string
  unique_id?: string[]
  dlr_url?: string
  username?: string
  password?: string
}

/**
 * A recipient's line. Its numbers are typed as the seed shows them; a PHP API may write them as
 * text, and how this one does is not documented, so counts and ids written as digits are taken
 * too, and an optional field written `null` is taken as left out, rather than making a whole
 * batch `unknown` over one field's type.
 */
export interface SendSmsItem {
  id?: string | number | null
  phone: string
  status: string
  parts?: number | string | null
  error_code?: number | string | null
  error_message?: string | null
}

export interface SendSmsSuccess {
  success: true
  queued: number | string
  unsent: number | string
  items?: SendSmsItem[]
}

type Shape = Record<string, unknown>
const isObject = (value: unknown): value is Shape => typeof value === 'object' && value !== null && !Array.isArray(value)
const isOptionalString = (value: unknown) => value === undefined || typeof value === 'string'
/** An item's optional field: `null` is taken as left out (see SendSmsItem). */
const isOptionalItemString = (value: unknown) => value === null || isOptionalString(value)
const DIGITS = /^\d{1,15}$/
/**
 * A count the gateway adds up and exports, as a number or as digits: 1e999 parses as Infinity,
 * which no metric or integer field takes.
 */
const isCount = (value: unknown) => (Number.isSafeInteger(value) && (value as number) >= 0) || (typeof value === 'string' && DIGITS.test(value))
const isOptionalCount = (value: unknown) => value == null || isCount(value)
const isOptionalId = (value: unknown) => isOptionalItemString(value) || (Number.isSafeInteger(value) && (value as number) >= 0)
const isCode = (value: unknown) => typeof value === 'number' || typeof value === 'string'

/** An item's count as a number; call only on what `isCount` took. */
export function countOf (value: number | string): number {
  return typeof value === 'number' ? value : Number(value)
}

function isSendSmsItem (item: unknown): item is SendSmsItem {
  return isObject(item) && typeof item.phone === 'string' && typeof item.status === 'string' &&
    isOptionalId(item.id) && isOptionalCount(item.parts) &&
    (item.error_code == null || isCode(item.error_code)) && isOptionalItemString(item.error_message)
}

/** Checked by hand: it runs once per upstream answer, and extra fields are tolerated as the provider may add some. */
function isSendSmsSuccess (body: unknown): body is SendSmsSuccess {
  return isObject(body) && body.success === true && isCount(body.queued) && isCount(body.unsent) &&
    (body.items === undefined || (Array.isArray(body.items) && body.items.every(isSendSmsItem)))
}

function isProviderError (body: unknown): body is Shape & { error: { code: number | string, type?: string, message?: string } } {
  return isObject(body) && isObject(body.error) && isCode(body.error.code) &&
    isOptionalString(body.error.type) && isOptionalString(body.error.message)
}

/** `code` is a number when the provider sent one (or its digits), else the text it sent, intact. */
export interface ProviderError { code: number | string, type: string, message: string }

/** What one upstream request came to, as far as the gateway can tell. */
export type SendSmsOutcome =
  | { outcome: 'ok', response: SendSmsSuccess }
  | { outcome: 'provider_error', error: ProviderError }
  /** `requestSent`: the whole request reached the wire, so the provider may have acted on it. */
  | { outcome: 'timeout', requestSent: boolean, detail: string }
  | { outcome: 'network', requestSent: boolean, detail: string }
  | { outcome: 'bad_response', statusCode: number, detail: string }

export type UpstreamOutcomeName = SendSmsOutcome['outcome']
/** Every outcome, for metrics that export each from 0 (a Record: leaving one out does not compile). */
const OUTCOME_NAMES: Readonly<Record<UpstreamOutcomeName, true>> = { ok: true, provider_error: true, timeout: true, network: true, bad_response: true }
export const UPSTREAM_OUTCOMES = Object.keys(OUTCOME_NAMES) as readonly UpstreamOutcomeName[]

/**
 * Provider codes that concern the gateway's account (login, role, IP, activation), not the request:
 * 1001 wrong login or password, 1002 no API access, 1003 IP not allowed, 1005 no permission,
 * 1007 account not fully active. The rest of the 1000s (1000 no action, 1004 invalid id,
 * 1006 invalid data format) refuse the request, like the 2000s and 3000s.
 */
const ACCOUNT_ERROR_CODES: ReadonlySet<number> = new Set([1001, 1002, 1003, 1005, 1007])

export function isAccountError (code: number | string): boolean {
  return typeof code === 'number' && ACCOUNT_ERROR_CODES.has(code)
}

/** @see ../../../shared/docs/serwersms-api.md "Error codes known so far" */
const KNOWN_ERROR_CODES: ReadonlyArray<readonly [number, number]> = [[1000, 1007], [2000, 2001], [3000, 3009], [3100, 3104]]

function isKnownErrorCode (code: number | string): boolean {
  return typeof code === 'number' && KNOWN_ERROR_CODES.some(([first, last]) => code >= first && code <= last)
}

/**
 * The provider's code as an integer when it sent one, or only digits; else as the text it sent,
 * intact ("0x3E9" is not 1001, an account refusal).
 */
export function providerCode (code: number | string): number | string {
  if (typeof code === 'number') return Number.isSafeInteger(code) ? code : String(code)
  return DIGITS.test(code) ? Number(code) : code
}

/**
 * Provider codes that refuse what the caller asked for — its number or its text — and nothing of
 * the gateway's or the account's: 2001 invalid phone number, 3101 empty message, 3102 message too
 * long, 3103 incorrect number. Requests the provider refused so are counted apart (`refused`), so
 * that one caller's bad input does not read as the provider failing and page whoever runs the
 * gateway. The other codes — the account's, its limits (3000s), a blocked sending (3100), a
 * request the gateway built wrong (1000, 1004, 1006, 2000, 3104) and codes not known — stay
 * `provider_error`.
 */
const CALLER_ERROR_CODES: ReadonlySet<number> = new Set([2001, 3101, 3102, 3103])

/** How the metrics name an upstream request's outcome: a provider error is the caller's (`refused`) or not. */
export type UpstreamMetricOutcome = UpstreamOutcomeName | 'refused'
export const UPSTREAM_METRIC_OUTCOMES: readonly UpstreamMetricOutcome[] = [...UPSTREAM_OUTCOMES, 'refused']

export function metricOutcomeOf (result: SendSmsOutcome): UpstreamMetricOutcome {
  return result.outcome === 'provider_error' && typeof result.error.code === 'number' && CALLER_ERROR_CODES.has(result.error.code) ? 'refused' : result.outcome
}

/**
 * Reads an HTTP answer of send_sms. An `error` body is a refusal whatever the status (the
 * status that goes with it is undocumented), so nothing was sent — unless it came with a 5xx and
 * a code the provider does not document: that reads as its server failing, maybe half-way
 * through a send, and is a bad response like any other 5xx. Anything else unexpected is a bad
 * response too.
 */
export function readSendSmsResponse (statusCode: number, bodyText: string, credentials: readonly string[] = []): SendSmsOutcome {
  let body: unknown
  try {
    body = JSON.parse(bodyText)
  } catch {
    return { outcome: 'bad_response', statusCode, detail: `an unparsable body (HTTP ${statusCode})` }
  }
  if (isProviderError(body)) {
    // A general error queues nothing (the seed); a body that also says it queued, or lists
    // recipients, contradicts itself, and taking the error at its word would tell the caller that
    // recipients who may have been sent were not.
    if (body.success === true || 'items' in body || ('queued' in body && countOf(body.queued as number | string) !== 0)) {
      return { outcome: 'bad_response', statusCode, detail: `an answer that is both an error (${providerText(String(body.error.code), credentials, PROVIDER_CODE_MAX)}) and a success (HTTP ${statusCode})` }
    }
    const code = providerCode(body.error.code)
    const error = {
      code: typeof code === 'string' ? providerText(code, credentials, PROVIDER_CODE_MAX) : code,
      type: providerText(body.error.type ?? 'UnknownError', credentials, PROVIDER_CODE_MAX),
      message: providerText(body.error.message ?? 'no message given', credentials, PROVIDER_TEXT_MAX)
    }
    if (statusCode >= 500 && !isKnownErrorCode(error.code)) {
      return { outcome: 'bad_response', statusCode, detail: `HTTP ${statusCode} with an error the gateway does not know (${error.code}: ${error.message})` }
    }
    return { outcome: 'provider_error', error }
  }
  if (statusCode < 200 || statusCode > 299) {
    return { outcome: 'bad_response', statusCode, detail: `HTTP ${statusCode} without an error body` }
  }
  if (!isSendSmsSuccess(body)) {
    return { outcome: 'bad_response', statusCode, detail: 'a body that is not a send_sms answer' }
  }
  for (const item of body.items ?? []) {
    if (typeof item.error_message === 'string') item.error_message = providerText(item.error_message, credentials, PROVIDER_TEXT_MAX)
    if (typeof item.error_code === 'string') item.error_code = providerText(item.error_code, credentials, PROVIDER_CODE_MAX)
  }
  return { outcome: 'ok', response: body }
}

/**
 * The most the gateway passes on of a text the provider wrote (an error's message, a recipient's
 * error): it is quoted in the answer, once per recipient it concerns, in the idempotency store and
 * in the log, so 20 KB of it on a call to 2,000 recipients made a 40-MB answer.
 */
export const PROVIDER_TEXT_MAX = 200
/** The same for an error's code or type when written as text. */
export const PROVIDER_CODE_MAX = 64
/**
 * Provider text as the gateway passes it on: its own credentials taken out (a provider may quote a
 * parameter it was sent, the password among them: `credentials` are every spelling to look for,
 * longest first), then cut.
 */
function providerText (text: string, credentials: readonly string[], maxLength: number): string {
  let scrubbed = text
  for (const spelling of credentials) {
    if (scrubbed.includes(spelling)) scrubbed = scrubbed.replaceAll(spelling, '[credential]')
  }
  return shortened(scrubbed, maxLength)
}

/**
 * Whether the provider's counts of queued and unsent messages are those of its list. When they are
 * not, one of the two is wrong, and a recipient listed as not sent may have been: answered
 * `unsent`, the caller would send it again. (One listed as queued, with its id, stays queued.)
 */
export function countsAgreeWithList ({ queued, unsent, items }: SendSmsSuccess): boolean {
  if (items === undefined) return true
  let listedQueued = 0
  let listedUnsent = 0
  for (const item of items) {
    if (item.status === 'queued') listedQueued++
    else if (item.status === 'unsent') listedUnsent++
  }
  return countOf(queued) === listedQueued && countOf(unsent) === listedUnsent
}

/** Digits only: the provider may write a number with or without `+`; both name the same phone. */
export function phoneKey (phone: string): string {
  return phone.replace(/\D/g, '')
}
