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

/** @see SerwerSMS HTTPS API v2, messages/send_sms — the per-recipient error in `items` */
const INCORRECT_NUMBER: Readonly<RecipientError> = Object.freeze({ code: 3103, message: 'Incorrect number' })

/**
 * Plans recipients one at a time, so sending can start before the last number is parsed.
 * Numbers that normalise to the same E.164 (and repeated invalid inputs) collapse onto their
 * first occurrence, whose uniqueId wins.
 */
export class RecipientPlanner {
  readonly #region: CountryCode
  // Repeated raw inputs are skipped before parsing, the costly step; differently written
  // numbers are only caught once normalised.
  readonly #seenInputs = new Set<string>()
  readonly #seenPhones = new Set<string>()

  constructor (defaultRegion: CountryCode) {
    this.#region = defaultRegion
  }

  /** The recipient for this input, or undefined when it repeats an earlier one. */
  add (input: string, uniqueId: string | undefined): PlannedRecipient | undefined {
    if (this.#seenInputs.has(input)) return undefined
    this.#seenInputs.add(input)
    const check = normalisePhone(input, this.#region)
    if (!check.ok) {
      return uniqueId === undefined ? { input, error: INCORRECT_NUMBER } : { input, uniqueId, error: INCORRECT_NUMBER }
    }
    if (this.#seenPhones.has(check.e164)) return undefined
    this.#seenPhones.add(check.e164)
    return uniqueId === undefined ? { input, phone: check.e164 } : { input, phone: check.e164, uniqueId }
  }
}
