// The 'max' metadata checks each number against its country's numbering plan; the default
// ('min') metadata only checks lengths and would accept unassigned ranges.
import {
  isSupportedCountry,
  parsePhoneNumberFromString,
  validatePhoneNumberLength,
  type CountryCode,
  type ValidatePhoneNumberLengthResult
} from 'libphonenumber-js/max'

export type PhoneCheck =
  | { ok: true, e164: string }
  | { ok: false, reason: 'too_short' | 'too_long' | 'invalid_country' | 'not_a_number' | 'invalid' }

type PhoneProblem = Extract<PhoneCheck, { ok: false }>['reason']

/** Generous for formatted input, short enough that junk never reaches the parser. */
const MAX_INPUT_LENGTH = 32
/** Digits, a leading plus, and the separators people type; anything else is not a number. */
const PHONE_CHARACTERS = /^\+?[\d\s().\-/]*\d[\d\s().\-/]*$/
const SEPARATORS = /[\s().\-/]/g
/** 48 + nine national digits, written without '+' or '00': the provider reads it as +48. */
const POLISH_WITHOUT_PLUS = /^48\d{9}$/
const POLAND: CountryCode = 'PL'

const PROBLEM_BY_LENGTH_RESULT: Record<ValidatePhoneNumberLengthResult, PhoneProblem> = {
  TOO_SHORT: 'too_short',
  TOO_LONG: 'too_long',
  INVALID_COUNTRY: 'invalid_country',
  NOT_A_NUMBER: 'not_a_number',
  INVALID_LENGTH: 'invalid'
}

const MASK = '*'
const MASK_KEEP_HEAD = 5
const MASK_KEEP_TAIL = 3
/** Fewer hidden digits than this would leave the number guessable. */
const MASK_MIN_HIDDEN = 3
const MASK_SHORT_KEEP_TAIL = 2

function fail (reason: PhoneProblem): PhoneCheck {
  return { ok: false, reason }
}

function prepareForParser (input: string, defaultRegion: CountryCode): string {
  if (defaultRegion !== POLAND || input.startsWith('+')) return input
  const digits = input.replace(SEPARATORS, '')
  return POLISH_WITHOUT_PLUS.test(digits) ? `+${digits}` : input
}

export function normalisePhone (input: string, defaultRegion: CountryCode): PhoneCheck {
  if (input.length > MAX_INPUT_LENGTH) return fail('not_a_number')
  const trimmed = input.trim()
  if (!PHONE_CHARACTERS.test(trimmed)) return fail('not_a_number')
  const text = prepareForParser(trimmed, defaultRegion)
  const parsed = parsePhoneNumberFromString(text, defaultRegion)
  if (parsed?.isValid() === true) return { ok: true, e164: parsed.number }
  const lengthResult = validatePhoneNumberLength(text, defaultRegion)
  return fail(lengthResult === undefined ? 'invalid' : PROBLEM_BY_LENGTH_RESULT[lengthResult])
}

export function isSupportedRegion (code: string): code is CountryCode {
  return isSupportedCountry(code)
}

export function maskPhone (phone: string): string {
  const head = phone.startsWith('+') ? MASK_KEEP_HEAD + 1 : MASK_KEEP_HEAD
  const hidden = phone.length - head - MASK_KEEP_TAIL
  if (hidden >= MASK_MIN_HIDDEN) {
    return phone.slice(0, head) + MASK.repeat(hidden) + phone.slice(-MASK_KEEP_TAIL)
  }
  if (phone.length <= MASK_SHORT_KEEP_TAIL) return MASK.repeat(phone.length)
  return MASK.repeat(phone.length - MASK_SHORT_KEEP_TAIL) + phone.slice(-MASK_SHORT_KEEP_TAIL)
}
