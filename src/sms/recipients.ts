import type { CountryCode } from 'libphonenumber-js/max'
import { normalisePhone } from './phone.js'

export interface RecipientError { code: number, message: string }

export interface PlannedRecipient {
  input: string
  /** E.164 when valid */
  phone?: string
  uniqueId?: string
  error?: RecipientError
}

export interface RecipientPlan {
  /** one per distinct recipient in the caller's order of first appearance; invalid numbers included (each input once) with error */
  recipients: PlannedRecipient[]
  /** indexes into `recipients` of the ones to send (valid, first occurrence), in order */
  sendable: number[]
  duplicatesDropped: number
}

/** @see SerwerSMS HTTPS API v2, messages/send_sms — the per-recipient error in `items` */
const INCORRECT_NUMBER: Readonly<RecipientError> = Object.freeze({ code: 3103, message: 'Incorrect number' })

/**
 * Collapses numbers that normalise to the same E.164 (and repeated invalid inputs) onto their
 * first occurrence, whose uniqueId wins. Throws RangeError when uniqueIds is not aligned.
 */
export function planRecipients (
  numbers: readonly string[],
  uniqueIds: readonly string[] | undefined,
  defaultRegion: CountryCode
): RecipientPlan {
  if (uniqueIds !== undefined && uniqueIds.length !== numbers.length) {
    throw new RangeError(`uniqueIds has ${uniqueIds.length} entries for ${numbers.length} numbers`)
  }
  const recipients: PlannedRecipient[] = []
  const sendable: number[] = []
  // Repeated raw inputs are skipped before parsing, the costly step; differently written
  // numbers are only caught once normalised.
  const seenInputs = new Set<string>()
  const seenPhones = new Set<string>()

  for (let i = 0; i < numbers.length; i++) {
    const input = numbers[i] as string
    if (seenInputs.has(input)) continue
    seenInputs.add(input)
    const uniqueId = uniqueIds?.[i]
    const check = normalisePhone(input, defaultRegion)
    if (!check.ok) {
      recipients.push(uniqueId === undefined
        ? { input, error: INCORRECT_NUMBER }
        : { input, uniqueId, error: INCORRECT_NUMBER })
      continue
    }
    if (seenPhones.has(check.e164)) continue
    seenPhones.add(check.e164)
    sendable.push(recipients.length)
    recipients.push(uniqueId === undefined
      ? { input, phone: check.e164 }
      : { input, phone: check.e164, uniqueId })
  }

  return { recipients, sendable, duplicatesDropped: numbers.length - recipients.length }
}
