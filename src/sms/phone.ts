// The 'max' metadata checks each number against its country's numbering plan; the default
// ('min') metadata only checks lengths and would accept unassigned ranges.
import {
  isSupportedCountry,
  Metadata,
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
/**
 * Digits, a leading plus (bracketed too, as in "(+48) 500 600 700"), and the separators people
 * type; anything else is not a number.
 */
const PHONE_CHARACTERS = /^\(?\+?[\d\s().\-/]*\d[\d\s().\-/]*$/
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

/** Every type libphonenumber-js's isValid() tries (helpers/getNumberType.js): a number is valid when one matches. */
const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'] as const
const DIGITS = /^\d+$/

interface RegionPlan {
  /** '+' and the calling code */
  prefix: string
  nationalPrefix: string | undefined
  nationalNumber: RegExp
  types: Array<{ pattern: RegExp, lengths: readonly number[] }>
}

/**
 * The parts of libphonenumber-js's Metadata the plan reads. They are not in its type definitions:
 * should a release change them, compiling fails, every number goes to the parser, and the test
 * that requires a plan for PL says so.
 */
interface MetadataInternals {
  selectNumberingPlan (region: CountryCode): void
  getCountryCodesForCallingCode (callingCode: string): string[] | undefined
  numberingPlan?: {
    callingCode (): string
    nationalPrefix (): string | undefined
    nationalPrefixForParsing (): string | undefined
    nationalNumberPattern (): string
    type (name: string): { pattern (): string | undefined, possibleLengths (): number[] | undefined } | undefined
  }
}

/**
 * The numbering plan of a region, its patterns compiled once, for the numbers that need no
 * parsing decisions: the region's own calling code (or none) followed by a national number that
 * does not start with a national prefix. libphonenumber-js builds a RegExp from the metadata's
 * text for every pattern it tries, for every number: ~10 µs a number, ~15% of the gateway's CPU
 * per send under load (bench/README.md). Only regions whose calling code is theirs alone and whose
 * national prefix is read plainly qualify; every other number, and every number the plan does not
 * accept, goes to the parser — so the answers are the library's own (test/sms/phone.test.ts
 * checks them against it number by number).
 */
function compileRegionPlan (region: CountryCode): RegionPlan | undefined {
  try {
    const metadata = new Metadata() as unknown as MetadataInternals
    metadata.selectNumberingPlan(region)
    const plan = metadata.numberingPlan
    if (plan === undefined) return undefined
    const callingCode = plan.callingCode()
    if (metadata.getCountryCodesForCallingCode(callingCode)?.length !== 1) return undefined
    const nationalPrefix = plan.nationalPrefix()
    const prefixForParsing = plan.nationalPrefixForParsing()
    if (prefixForParsing !== undefined && prefixForParsing !== nationalPrefix) return undefined
    const entirely = (pattern: string) => new RegExp(`^(?:${pattern})$`)
    const types: RegionPlan['types'] = []
    for (const name of NUMBER_TYPES) {
      const type = plan.type(name)
      const pattern = type?.pattern()
      if (type !== undefined && pattern !== undefined && pattern !== '') types.push({ pattern: entirely(pattern), lengths: type.possibleLengths() ?? [] })
    }
    if (types.length === 0) return undefined
    return { prefix: `+${callingCode}`, nationalPrefix, nationalNumber: entirely(plan.nationalNumberPattern()), types }
  } catch {
    return undefined
  }
}

const regionPlans = new Map<CountryCode, RegionPlan | undefined>()

/** @internal exported for the tests */
export function regionPlan (region: CountryCode): RegionPlan | undefined {
  if (!regionPlans.has(region)) regionPlans.set(region, compileRegionPlan(region))
  return regionPlans.get(region)
}

/**
 * The E.164 form when the region's plan alone shows the number valid; undefined means: ask the
 * parser. `0` covers international prefixes (00…) in every region, the national prefix the rest.
 * @internal exported for the tests
 */
export function validByPlan (text: string, region: CountryCode): string | undefined {
  const plan = regionPlan(region)
  if (plan === undefined) return undefined
  const compact = text.replace(SEPARATORS, '')
  const national = compact.startsWith('+') ? (compact.startsWith(plan.prefix) ? compact.slice(plan.prefix.length) : undefined) : compact
  if (national === undefined || !DIGITS.test(national)) return undefined
  if (national.startsWith('0') || (plan.nationalPrefix !== undefined && national.startsWith(plan.nationalPrefix))) return undefined
  if (!plan.nationalNumber.test(national)) return undefined
  for (const type of plan.types) {
    if ((type.lengths.length === 0 || type.lengths.includes(national.length)) && type.pattern.test(national)) return plan.prefix + national
  }
  return undefined
}

/** @param useRegionPlan false only to check the compiled plan against the parser (the tests) */
export function normalisePhone (input: string, defaultRegion: CountryCode, useRegionPlan = true): PhoneCheck {
  if (input.length > MAX_INPUT_LENGTH) return fail('not_a_number')
  const trimmed = input.trim()
  if (!PHONE_CHARACTERS.test(trimmed)) return fail('not_a_number')
  const text = prepareForParser(trimmed, defaultRegion)
  const e164 = useRegionPlan ? validByPlan(text, defaultRegion) : undefined
  if (e164 !== undefined) return { ok: true, e164 }
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
