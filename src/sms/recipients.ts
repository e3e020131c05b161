import type { CountryCode } from 'libphonenumber-js/max'
import { RECIPIENT_ERRORS, type RecipientErrorCode } from '../errors.js'
import { normalisePhone } from './phone.js'

/** A recipient's own error: the provider's code (a number, or its text), or the gateway's. */
export interface RecipientError { code: number | string, message: string }

export type PlannedRecipient =
  /** to be sent: `phone` is E.164 */
  | { input: string, phone: string, uniqueId?: string, error?: undefined }
  /**
   * not sent: the gateway refused it (`phone` is the number it repeats, when it is one); `repeat`
   * when it repeats an earlier entry, valid or not, and is no message of its own
   */
  | { input: string, phone?: string, uniqueId?: string, error: RecipientError, repeat?: true }

function gatewayError (code: RecipientErrorCode, message: string = RECIPIENT_ERRORS[code]): RecipientError {
  return Object.freeze({ code, message })
}

const PHONE_INVALID = gatewayError('GW_PHONE_INVALID')

/**
 * Plans recipients one at a time, so sending can start before the last number is parsed.
 * Numbers that normalise to the same E.164 (and repeated invalid inputs) are sent once, under
 * their first occurrence. A repeat is dropped without a trace unless it carries a uniqueId of
 * its own: the caller then expects an answer for that id, and gets one saying it was not sent.
 */
export class RecipientPlanner {
  readonly #region: CountryCode
  // Repeated raw inputs are skipped before parsing, the costly step; differently written
  // numbers are only caught once normalised. Each maps to its first occurrence.
  readonly #seenInputs = new Map<string, PlannedRecipient>()
  readonly #seenPhones = new Map<string, PlannedRecipient>()

  constructor (defaultRegion: CountryCode) {
    this.#region = defaultRegion
  }

  /** The recipient for this input, or undefined when it repeats an earlier one without a uniqueId of its own. */
  add (input: string, uniqueId: string | undefined): PlannedRecipient | undefined {
    const seen = this.#seenInputs.get(input)
    if (seen !== undefined) return repeatOf(seen, input, uniqueId)
    const check = normalisePhone(input, this.#region)
    let recipient: PlannedRecipient
    if (!check.ok) {
      recipient = uniqueId === undefined ? { input, error: PHONE_INVALID } : { input, uniqueId, error: PHONE_INVALID }
    } else {
      const first = this.#seenPhones.get(check.e164)
      if (first !== undefined) {
        this.#seenInputs.set(input, first)
        return repeatOf(first, input, uniqueId)
      }
      recipient = uniqueId === undefined ? { input, phone: check.e164 } : { input, phone: check.e164, uniqueId }
      this.#seenPhones.set(check.e164, recipient)
    }
    this.#seenInputs.set(input, recipient)
    return recipient
  }
}

/** A later occurrence of `first`'s number: an invalid one is as invalid, a valid one is not sent twice. */
function repeatOf (first: PlannedRecipient, input: string, uniqueId: string | undefined): PlannedRecipient | undefined {
  if (uniqueId === undefined) return undefined
  if (first.error !== undefined) return { input, uniqueId, error: first.error, repeat: true }
  const message = first.uniqueId === undefined
    ? RECIPIENT_ERRORS.GW_RECIPIENT_REPEATED
    : `The same number as the recipient with uniqueId ${first.uniqueId}: not sent separately, its fate is that recipient's.`
  return { input, phone: first.phone, uniqueId, error: gatewayError('GW_RECIPIENT_REPEATED', message), repeat: true }
}
