/** @see https://www.unicode.org/Public/MAPPINGS/ETSI/GSM0338.TXT — these cost an escape septet each */
const GSM7_EXTENSION = '\f^{}\\[~]|€'
const EXTENSION_CODES = new Set([...GSM7_EXTENSION].map((char) => char.charCodeAt(0)))

export const GSM7_SINGLE_PART_SEPTETS = 160
export const GSM7_CONCATENATED_PART_SEPTETS = 153
export const UCS2_SINGLE_PART_UNITS = 70
export const UCS2_CONCATENATED_PART_UNITS = 67

const EXTENSION_SEPTETS = 2
const SURROGATE_PAIR_UNITS = 2
const HIGH_SURROGATE_MIN = 0xd800
const HIGH_SURROGATE_MAX = 0xdbff
const LOW_SURROGATE_MIN = 0xdc00
const LOW_SURROGATE_MAX = 0xdfff

/**
 * How many SMS parts the provider bills for `text`. UCS-2 applies only to FULL messages with
 * `utf`; otherwise the provider sends GSM-7 and replaces a character it cannot encode by one
 * character, so any non-extension character (a surrogate pair included) costs one septet.
 * An escaped character or a surrogate pair never straddles two parts.
 */
export function countSmsParts (text: string, ucs2: boolean): number {
  const single = ucs2 ? UCS2_SINGLE_PART_UNITS : GSM7_SINGLE_PART_SEPTETS
  const concatenated = ucs2 ? UCS2_CONCATENATED_PART_UNITS : GSM7_CONCATENATED_PART_SEPTETS
  if (ucs2 && text.length <= single) return 1
  let total = 0
  let parts = 1
  let used = 0
  for (let i = 0; i < text.length; i++) {
    const pair = isSurrogatePairAt(text, i)
    const cost = ucs2
      ? (pair ? SURROGATE_PAIR_UNITS : 1)
      : (EXTENSION_CODES.has(text.charCodeAt(i)) ? EXTENSION_SEPTETS : 1)
    if (pair) i++
    total += cost
    if (used + cost > concatenated) {
      parts++
      used = 0
    }
    used += cost
  }
  return total <= single ? 1 : parts
}

function isSurrogatePairAt (text: string, index: number): boolean {
  const high = text.charCodeAt(index)
  if (high < HIGH_SURROGATE_MIN || high > HIGH_SURROGATE_MAX) return false
  const low = text.charCodeAt(index + 1)
  return low >= LOW_SURROGATE_MIN && low <= LOW_SURROGATE_MAX
}
