import type { CountryCode } from 'libphonenumber-js'
import type { ErrorCode } from '../errors.js'
import type { RecipientResult, RecipientStatus, SendSmsResult } from '../schemas/sms.js'
import type { SendSmsFields } from '../serwersms/client.js'
import { countOf, countsAgreeWithList, isAccountError, phoneKey, providerCode, SYSTEM_NAME, type ProviderError, type ProviderFlags, type SendSmsItem, type SendSmsOutcome } from '../serwersms/send-sms.js'
import { TaskPool } from './batching.js'
import { isGsm7 } from './gsm7.js'
import { RecipientPlanner } from './recipients.js'
import { formatProviderDate } from './send-date.js'

/** A send as the gateway understands it, already validated. */
export interface SmsOrder extends ProviderFlags {
  to: readonly string[]
  text: string
  sender?: string
  sendAt?: Date
  uniqueIds?: readonly string[]
}

export interface DispatchSettings {
  batchSize: number
  concurrency: number
  defaultRegion: CountryCode
  /** the zone of the provider's `date`; default Europe/Warsaw */
  timeZone?: string
  /**
   * The push URL for a batch's delivery reports, if the gateway receives them: asked for as each
   * batch leaves, since the URL carries the send time that delivery latency is measured from, and
   * a call's later batches leave later (they wait for a slot of `concurrency`).
   */
  deliveryReportUrl?: () => string
  /** true once the gateway is shutting down: batches not yet sent are then not sent at all */
  stopping?: () => boolean
}

export type SendBatch = (fields: SendSmsFields) => Promise<SendSmsOutcome>

/** Why nothing was accepted, when nothing was: decides the HTTP status of the whole call. */
export interface DispatchFailure {
  code: ErrorCode
  detail: string
  providerError?: ProviderError
  /** false only when the batch cannot have been sent (its recipients are `failed`, not `unknown`) */
  mayHaveBeenSent: boolean
}

export interface DispatchReport {
  result: SendSmsResult
  batches: number
  acceptedBatches: number
  /** set when batches were made and none was accepted */
  failure?: DispatchFailure
  /** set when some: entries that repeat an earlier recipient's number (`unsent`, GW_RECIPIENT_REPEATED) or invalid input (GW_PHONE_INVALID, as the first), not recipients of their own */
  repeats?: number
}

/** Parsing is synchronous; yield to the event loop this often so other requests are served meanwhile. */
const YIELD_EVERY_INPUTS = 2000

/**
 * Sends an order in provider-sized batches, at most `concurrency` at once, and answers for
 * every recipient. Numbers are normalised while earlier batches are on the wire. Never retries:
 * a batch that may have been sent is reported `unknown`.
 */
export async function dispatchSms (order: SmsOrder, settings: DispatchSettings, sendBatch: SendBatch): Promise<DispatchReport> {
  if (order.uniqueIds !== undefined && order.uniqueIds.length !== order.to.length) {
    throw new RangeError(`uniqueIds has ${order.uniqueIds.length} entries for ${order.to.length} numbers`)
  }
  const planner = new RecipientPlanner(settings.defaultRegion)
  // An order that fits in one batch (most calls: one recipient) is sent straight away; the
  // pool's bookkeeping and the promises it chains only pay off when batches queue for a slot.
  const pool = order.to.length <= settings.batchSize ? undefined : new TaskPool(settings.concurrency)
  const common = providerFields(order, settings)
  const messages: RecipientResult[] = []
  const failures: Array<DispatchFailure | undefined> = []
  let batch: number[] = []
  let repeats = 0

  const send = async (indexes: number[], batchNumber: number) => {
    // Checked as each batch is about to go, queued ones included: a long call would otherwise
    // outlast the shutdown's grace period and lose its whole answer when the process exits.
    if (settings.stopping?.() === true) {
      failures[batchNumber] = withdraw(indexes, messages)
      return
    }
    const fields: SendSmsFields = { ...common, phone: indexes.map((i) => messages[i]!.phone) }
    // Not URL-encoded: the seed's urlencode() is what a form body does to every value, and JSON
    // needs no such framing. The URL holds nothing a decode would change, so it survives one either way.
    if (settings.deliveryReportUrl !== undefined) fields.dlr_url = settings.deliveryReportUrl()
    if (order.uniqueIds !== undefined) fields.unique_id = indexes.map((i) => messages[i]!.uniqueId!)
    failures[batchNumber] = applyOutcome(await sendBatch(fields), indexes, messages)
  }
  const submit = async (indexes: number[]) => {
    const batchNumber = failures.push(undefined) - 1
    if (pool === undefined) await send(indexes, batchNumber)
    else await pool.submit(async () => { await send(indexes, batchNumber) })
  }

  for (let i = 0; i < order.to.length; i++) {
    if (i > 0 && i % YIELD_EVERY_INPUTS === 0) await yieldToEventLoop()
    const recipient = planner.add(order.to[i]!, order.uniqueIds?.[i])
    if (recipient === undefined) continue
    if (recipient.error !== undefined) {
      if (recipient.repeat === true) repeats++
      const refused: RecipientResult = { phone: recipient.phone ?? recipient.input, status: 'unsent', error: recipient.error }
      if (recipient.uniqueId !== undefined) refused.uniqueId = recipient.uniqueId
      messages.push(refused)
      continue
    }
    const entry: RecipientResult = { phone: recipient.phone, status: 'unknown' }
    if (recipient.uniqueId !== undefined) entry.uniqueId = recipient.uniqueId
    batch.push(messages.push(entry) - 1)
    if (batch.length === settings.batchSize) {
      await submit(batch)
      batch = []
    }
  }
  if (batch.length > 0) await submit(batch)
  await pool?.drain()

  const acceptedBatches = failures.filter((failure) => failure === undefined).length
  const report: DispatchReport = { result: summarise(messages, order.test === true), batches: failures.length, acceptedBatches }
  if (acceptedBatches === 0 && failures.length > 0) report.failure = callFailure(failures as DispatchFailure[])
  if (repeats > 0) report.repeats = repeats
  return report
}

/**
 * What the answer to a call none of whose batches was accepted says. Its failure is that of a
 * batch that may have been sent, when there is one: an answer must never say "nothing was sent"
 * while some of its recipients may have been, or a caller who believes it and sends again could
 * send those twice. With several batches it says so, and points to the recipients' statuses.
 */
function callFailure (failures: readonly DispatchFailure[]): DispatchFailure {
  const failure = failures.find((batch) => batch.mayHaveBeenSent) ?? failures[0]!
  if (failures.length === 1) return failure
  return { ...failure, detail: `None of the ${failures.length} batches was accepted. ${failure.detail} Each recipient's status says what became of it: failed was not sent, unknown may have been.` }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

const PROVIDER_FLAGS = ['flash', 'test', 'speed', 'vcard'] as const

function providerFields (order: SmsOrder, settings: DispatchSettings): Omit<SendSmsFields, 'phone'> {
  const fields: Omit<SendSmsFields, 'phone'> = { system: SYSTEM_NAME, details: true, text: order.text }
  if (order.sender !== undefined) fields.sender = order.sender
  for (const flag of PROVIDER_FLAGS) {
    if (order[flag] !== undefined) fields[flag] = order[flag]
  }
  // National characters survive only as UCS-2, which only FULL (sender-bearing) SMS can carry.
  const utf = order.utf ?? (order.sender !== undefined && !isGsm7(order.text))
  if (utf) fields.utf = true
  if (order.sendAt !== undefined) fields.date = formatProviderDate(order.sendAt, settings.timeZone)
  return fields
}

/** Writes one batch's outcome into its recipients' entries; returns why it failed, if it did. */
function applyOutcome (outcome: SendSmsOutcome, indexes: readonly number[], messages: RecipientResult[]): DispatchFailure | undefined {
  if (outcome.outcome === 'ok') {
    const items = new Map<string, SendSmsItem | typeof CONFLICTING_ITEMS>()
    for (const item of outcome.response.items ?? []) {
      const key = phoneKey(item.phone)
      const earlier = items.get(key)
      items.set(key, earlier === undefined || isSameFate(earlier, item) ? item : CONFLICTING_ITEMS)
    }
    const countsAgree = countsAgreeWithList(outcome.response)
    for (const index of indexes) {
      const message = messages[index]!
      applyItem(message, items.get(phoneKey(message.phone)))
      if (!countsAgree && message.status === 'unsent') {
        message.status = 'unknown'
        message.error = { code: 'GW_UPSTREAM_BAD_RESPONSE', message: `The provider listed this recipient as not sent, but its counts (queued ${String(outcome.response.queued)}, unsent ${String(outcome.response.unsent)}) disagree with its list: it may have been sent.` }
      }
    }
    return undefined
  }
  const failure = describeBatchFailure(outcome)
  const status: RecipientStatus = failure.mayHaveBeenSent ? 'unknown' : 'failed'
  const error = failure.providerError === undefined
    ? { code: failure.code, message: failure.detail }
    : { code: failure.providerError.code, message: failure.providerError.message }
  markBatch(indexes, messages, status, error)
  return failure
}

/** Gives every recipient of a batch that came to no per-recipient answer the same status and error. */
function markBatch (indexes: readonly number[], messages: RecipientResult[], status: RecipientStatus, error: RecipientResult['error']): void {
  for (const index of indexes) {
    const message = messages[index]!
    message.status = status
    message.error = error
  }
}

/** A recipient the provider listed twice with different fates: which one holds cannot be told. */
const CONFLICTING_ITEMS = Symbol('conflicting items')

function isSameFate (earlier: SendSmsItem | typeof CONFLICTING_ITEMS, item: SendSmsItem): boolean {
  return earlier !== CONFLICTING_ITEMS && earlier.status === item.status && earlier.id === item.id
}

const WITHDRAWN: Readonly<DispatchFailure> = { code: 'GW_SHUTTING_DOWN', detail: 'The gateway shut down before these recipients were sent; nothing was sent to them. Retry on another instance.', mayHaveBeenSent: false }

/** Marks a batch that was never sent as failed (safe to retry), because the gateway is closing. */
function withdraw (indexes: readonly number[], messages: RecipientResult[]): DispatchFailure {
  markBatch(indexes, messages, 'failed', { code: WITHDRAWN.code, message: 'The gateway shut down before this recipient was sent.' })
  return WITHDRAWN
}

/**
 * Writes what the provider said of one recipient. Only the two statuses the seed documents are
 * taken at their word; anything else leaves the recipient `unknown` (it may have been sent).
 */
function applyItem (message: RecipientResult, item: SendSmsItem | typeof CONFLICTING_ITEMS | undefined): void {
  if (item === undefined) {
    message.error = { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'The provider accepted the batch but did not list this recipient.' }
    return
  }
  if (item === CONFLICTING_ITEMS) {
    message.error = { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'The provider listed this recipient twice with different outcomes.' }
    return
  }
  if (item.status === 'unsent') {
    message.status = 'unsent'
    message.error = { code: item.error_code == null ? 'unknown' : providerCode(item.error_code), message: item.error_message ?? 'Not sent' }
  } else if (item.status === 'queued') {
    message.status = 'queued'
    if (item.parts != null) message.parts = countOf(item.parts)
  } else {
    message.error = { code: 'GW_UPSTREAM_BAD_RESPONSE', message: `The provider gave this recipient the status "${item.status}", which the gateway does not know.` }
  }
  if (item.id != null) message.id = String(item.id)
}

export function describeBatchFailure (outcome: Exclude<SendSmsOutcome, { outcome: 'ok' }>): DispatchFailure {
  switch (outcome.outcome) {
    case 'provider_error': {
      const { code, message } = outcome.error
      return isAccountError(code)
        ? { code: 'GW_PROVIDER_AUTH_FAILED', detail: `SerwerSMS refused the gateway's account (${code}): ${message}`, providerError: outcome.error, mayHaveBeenSent: false }
        : { code: 'GW_PROVIDER_REFUSED', detail: `SerwerSMS refused the request (${code}): ${message}`, providerError: outcome.error, mayHaveBeenSent: false }
    }
    case 'timeout':
      return { code: 'GW_UPSTREAM_TIMEOUT', detail: outcome.requestSent ? 'SerwerSMS did not answer in time; the messages may have been sent.' : 'SerwerSMS could not be reached in time; nothing was sent.', mayHaveBeenSent: outcome.requestSent }
    case 'network':
      return { code: 'GW_UPSTREAM_UNREACHABLE', detail: outcome.requestSent ? `The connection to SerwerSMS broke (${outcome.detail}); the messages may have been sent.` : `SerwerSMS could not be reached (${outcome.detail}); nothing was sent.`, mayHaveBeenSent: outcome.requestSent }
    case 'bad_response':
      return { code: 'GW_UPSTREAM_BAD_RESPONSE', detail: `SerwerSMS answered with ${outcome.detail}; the messages may have been sent.`, mayHaveBeenSent: true }
  }
}

function summarise (messages: RecipientResult[], test: boolean): SendSmsResult {
  const result: SendSmsResult = test
    ? { queued: 0, unsent: 0, failed: 0, unknown: 0, parts: 0, test, messages }
    : { queued: 0, unsent: 0, failed: 0, unknown: 0, parts: 0, messages }
  for (const message of messages) {
    result[message.status as RecipientStatus]++
    if (message.status === 'queued') result.parts += message.parts ?? 1
  }
  return result
}
