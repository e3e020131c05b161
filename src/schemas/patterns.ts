import { SENDER_PATTERN } from '../serwersms/send-sms.js'

/**
 * The patterns request schemas use, each with the reason a caller reads when a value misses it:
 * Ajv's own message quotes the regular expression, which tells a caller what failed but not why.
 */
export const PRINTABLE_ASCII_PATTERN = '^[\\x20-\\x7E]+$'
export const UNIQUE_ID_PATTERN = '^[A-Za-z0-9]{3,50}$'
export const NOT_BLANK_PATTERN = '\\S'
export { SENDER_PATTERN }

const REASON_BY_PATTERN = new Map<string, string>([
  [PRINTABLE_ASCII_PATTERN, 'must be printable ASCII characters only'],
  [UNIQUE_ID_PATTERN, 'must be 3–50 letters and digits'],
  [NOT_BLANK_PATTERN, 'must not be only whitespace'],
  [SENDER_PATTERN, 'must be an approved sender name (1–11 letters, digits, spaces, dots or hyphens, with at least one letter, and no space at either end) or a 4- or 9-digit number']
])

export function reasonForPattern (pattern: unknown): string | undefined {
  return typeof pattern === 'string' ? REASON_BY_PATTERN.get(pattern) : undefined
}
