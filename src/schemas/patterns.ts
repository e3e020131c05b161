import { SENDER_PATTERN } from '../serwersms/send-sms.js'

/**
 * The patterns request schemas use, each with the reason a caller reads when a value misses it:
 * Ajv's own message quotes the regular expression, which tells a caller what failed but not why.
 */
export const PRINTABLE_ASCII_PATTERN = '^[\\x20-\\x7E]+$'
export const MAX_UNIQUE_ID_LENGTH = 50
export const UNIQUE_ID_PATTERN = `^[A-Za-z0-9]{3,${MAX_UNIQUE_ID_LENGTH}}$`
export const NOT_BLANK_PATTERN = '\\S'
/**
 * A caller's sender: an approved one, or empty for none, which the provider reads as an ECO+ SMS
 * ("If the sender parameter is omitted or its value is empty, an ECO + type SMS will be sent"):
 * the one way to ask for ECO+ where SERWERSMS_SENDER names a default.
 */
export const SENDER_OR_EMPTY_PATTERN = `^(?:$|${SENDER_PATTERN.slice(1)})`

const REASON_BY_PATTERN = new Map<string, string>([
  [PRINTABLE_ASCII_PATTERN, 'must be printable ASCII characters only'],
  [UNIQUE_ID_PATTERN, 'must be 3–50 letters and digits'],
  [NOT_BLANK_PATTERN, 'must not be only whitespace'],
  [SENDER_OR_EMPTY_PATTERN, 'must be an approved sender name (1–11 letters, digits, spaces, dots or hyphens, with at least one letter, and no space at either end), a 4- or 9-digit number, or empty for none (ECO+)']
])

export function reasonForPattern (pattern: unknown): string | undefined {
  return typeof pattern === 'string' ? REASON_BY_PATTERN.get(pattern) : undefined
}
