import { nextMessageId } from './message-id.js'
import { normalisePhone } from './phone.js'
import { PROVIDER_ERRORS, providerError, type ProviderErrorBody } from './provider-errors.js'
import { countSmsParts } from '../sms/gsm7.js'
import { formatProviderDate } from '../sms/send-date.js'

export interface SimulatorCredentials { token?: string, username?: string, password?: string }

export interface QueuedItem { id: string, phone: string, status: 'queued', queued: string, parts: number, text: string }
export interface UnsentItem {
  id: string
  phone: string
  status: 'unsent'
  queued: string
  error_code: number
  error_message: string
  text: string
}
export interface SendSmsResponse { success: true, queued: number, unsent: number, items?: Array<QueuedItem | UnsentItem> }

export interface SendSmsContext {
  authorization: string | undefined
  /** undefined accepts any non-empty token or username + password */
  credentials: SimulatorCredentials | undefined
  maxParts: number
  now: number
}

export type SendSmsOutcome =
  | { accepted: false, body: ProviderErrorBody }
  | {
    accepted: true
    body: SendSmsResponse
    test: boolean
    queued: number
    unsent: number
    /** ids of the queued messages, filled only when the request asked for details or reports */
    queuedIds: string[]
    dlrUrl: string | undefined
  }

const BEARER = /^bearer\s+(.+)$/i
const UNIQUE_ID = /^[a-zA-Z0-9]{3,50}$/
const SEND_DATE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/
const TRUE_VALUES: ReadonlySet<unknown> = new Set([true, 1, 'true', '1'])

/**
 * `messages/send_sms` as the provider answers it. General errors come in the order auth (1001),
 * text (3101), phone (3104), length (3102), unique_id (2000), date (1006).
 * @see ../../../shared/seeds/serwersms-send_sms.txt
 */
export function processSendSms (body: Record<string, unknown>, context: SendSmsContext): SendSmsOutcome {
  if (!isAuthorised(body, context)) return rejected(providerError(PROVIDER_ERRORS.invalidUser))

  const text = toText(body.text)
  if (text === '') return rejected(providerError(PROVIDER_ERRORS.emptyMessage))

  const phones = toList(body.phone)
  if (phones === undefined || phones.every((phone) => phone === '')) return rejected(providerError(PROVIDER_ERRORS.noPhoneNumbers))

  const ucs2 = isTrue(body.utf) && toText(body.sender) !== ''
  const parts = countSmsParts(text, ucs2 ? 'ucs2' : 'gsm7')
  if (parts > context.maxParts) return rejected(providerError(PROVIDER_ERRORS.messageTooLong))

  const uniqueIdProblem = checkUniqueIds(toList(body.unique_id), phones.length)
  if (uniqueIdProblem !== undefined) return rejected(providerError(PROVIDER_ERRORS.validationRequired, uniqueIdProblem))

  const date = toText(body.date)
  if (date !== '' && !isValidSendDate(date)) {
    return rejected(providerError(PROVIDER_ERRORS.invalidData, 'Invalid date format, expected YYYY-MM-DD HH:MM:SS'))
  }

  const details = isTrue(body.details)
  const dlrUrl = toText(body.dlr_url) || undefined
  const wantIds = details || dlrUrl !== undefined
  const queuedAt = formatProviderDate(new Date(context.now))
  const items: Array<QueuedItem | UnsentItem> = []
  const queuedIds: string[] = []
  const seen = new Set<string>()
  let queued = 0
  let unsent = 0
  for (const raw of phones) {
    const phone = normalisePhone(raw)
    const key = phone ?? raw
    if (seen.has(key)) continue
    seen.add(key)
    if (phone === null) {
      unsent++
      if (details) items.push(unsentItem(raw, queuedAt, text))
      continue
    }
    queued++
    if (!wantIds) continue
    const id = nextMessageId()
    queuedIds.push(id)
    if (details) items.push({ id, phone, status: 'queued', queued: queuedAt, parts, text })
  }

  const response: SendSmsResponse = details
    ? { success: true, queued, unsent, items }
    : { success: true, queued, unsent }
  return { accepted: true, body: response, test: isTrue(body.test), queued, unsent, queuedIds, dlrUrl }
}

/** Form bodies carry booleans as strings, JSON ones sometimes as 1/0. */
export function isTrue (value: unknown): boolean {
  return TRUE_VALUES.has(typeof value === 'string' ? value.toLowerCase() : value)
}

export function isValidSendDate (value: string): boolean {
  const match = SEND_DATE.exec(value)
  if (match === null) return false
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second))
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day &&
    date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second
}

function isAuthorised (body: Record<string, unknown>, { authorization, credentials }: SendSmsContext): boolean {
  const token = authorization === undefined ? '' : (BEARER.exec(authorization)?.[1]?.trim() ?? '')
  if (token !== '' && (credentials === undefined || (credentials.token !== undefined && token === credentials.token))) return true
  const username = toText(body.username)
  const password = toText(body.password)
  if (username === '' || password === '') return false
  if (credentials === undefined) return true
  return credentials.username !== undefined && username === credentials.username &&
    (credentials.password === undefined || password === credentials.password)
}

function checkUniqueIds (uniqueIds: string[] | undefined, phoneCount: number): string | undefined {
  if (uniqueIds === undefined || (uniqueIds.length === 1 && uniqueIds[0] === '')) return undefined
  if (uniqueIds.length !== phoneCount) {
    return `unique_id count (${uniqueIds.length}) must equal the number of phone numbers (${phoneCount})`
  }
  const seen = new Set<string>()
  for (const uniqueId of uniqueIds) {
    if (!UNIQUE_ID.test(uniqueId)) return `unique_id "${uniqueId}" must be 3-50 letters or digits (a-z, A-Z, 0-9)`
    if (seen.has(uniqueId)) return `unique_id "${uniqueId}" is used twice; each must be unique`
    seen.add(uniqueId)
  }
  return undefined
}

function unsentItem (phone: string, queued: string, text: string): UnsentItem {
  const { code, message } = PROVIDER_ERRORS.incorrectNumber
  return { id: nextMessageId(), phone, status: 'unsent', queued, error_code: code, error_message: message, text }
}

function rejected (body: ProviderErrorBody): SendSmsOutcome {
  return { accepted: false, body }
}

function toText (value: unknown): string {
  if (typeof value === 'string') return value
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : ''
}

/** String|Array parameters; undefined when the parameter is absent. */
function toList (value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.map(toText) : [toText(value)]
}
