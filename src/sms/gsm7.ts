export type SmsEncoding = 'gsm7' | 'ucs2'

/** @see https://www.unicode.org/Public/MAPPINGS/ETSI/GSM0338.TXT (0x1B is the escape, not a character) */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
const GSM7_EXTENSION = '\f^{}\\[~]|€'

const BASIC_CODES = toCodeSet(GSM7_BASIC)
const EXTENSION_CODES = toCodeSet(GSM7_EXTENSION)

const GSM7_SINGLE_PART_SEPTETS = 160
const GSM7_CONCATENATED_PART_SEPTETS = 153
const UCS2_SINGLE_PART_UNITS = 70
const UCS2_CONCATENATED_PART_UNITS = 67
const EXTENSION_SEPTETS = 2

type CharCost = (code: number, width: number) => number

function toCodeSet (chars: string): ReadonlySet<number> {
  const codes = new Set<number>()
  for (let i = 0; i < chars.length; i++) codes.add(chars.charCodeAt(i))
  return codes
}

export function isGsm7 (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (!BASIC_CODES.has(code) && !EXTENSION_CODES.has(code)) return false
  }
  return true
}

/** Code units of the character at `index`: 2 for a well-formed surrogate pair, else 1. */
function measureCharWidth (text: string, index: number): number {
  const code = text.charCodeAt(index)
  if (code < 0xd800 || code > 0xdbff) return 1
  const next = text.charCodeAt(index + 1)
  return next >= 0xdc00 && next <= 0xdfff ? 2 : 1
}

/**
 * A character outside the alphabet costs one septet, as if SerwerSMS put one GSM-7 character in
 * its place (e.g. 'ą' → 'a'), which is what is assumed of one sent without `utf` (an ECO+ SMS, or
 * `utf: false`): SerwerSMS does not document it.
 */
const costInSeptets: CharCost = (code, width) =>
  width === 1 && EXTENSION_CODES.has(code) ? EXTENSION_SEPTETS : 1

const costInCodeUnits: CharCost = (_code, width) => width

const PART_RULES: Record<SmsEncoding, { costOf: CharCost, single: number, concatenated: number }> = {
  gsm7: { costOf: costInSeptets, single: GSM7_SINGLE_PART_SEPTETS, concatenated: GSM7_CONCATENATED_PART_SEPTETS },
  ucs2: { costOf: costInCodeUnits, single: UCS2_SINGLE_PART_UNITS, concatenated: UCS2_CONCATENATED_PART_UNITS }
}

function sumCost (text: string, costOf: CharCost): number {
  let total = 0
  for (let i = 0; i < text.length;) {
    const width = measureCharWidth(text, i)
    total += costOf(text.charCodeAt(i), width)
    i += width
  }
  return total
}

/** Greedy packing, because an escape pair or a surrogate pair may not straddle two parts. */
function packParts (text: string, costOf: CharCost, partCapacity: number): number {
  let parts = 1
  let used = 0
  for (let i = 0; i < text.length;) {
    const width = measureCharWidth(text, i)
    const cost = costOf(text.charCodeAt(i), width)
    if (used + cost > partCapacity) {
      parts++
      used = 0
    }
    used += cost
    i += width
  }
  return parts
}

export function countSmsParts (text: string, encoding: SmsEncoding): number {
  if (text.length === 0) return 0
  const { costOf, single, concatenated } = PART_RULES[encoding]
  if (sumCost(text, costOf) <= single) return 1
  return packParts(text, costOf, concatenated)
}
