/**
 * JSON's punctuation as bytes, and the two moves every scanner of a body's bytes makes (its
 * strings skipped, a byte counted): src/json-body.ts reads bodies before JSON.parse does,
 * src/json-repeated-keys.ts beside it. A multi-byte UTF-8 character's bytes are all 0x80 or more:
 * none is read as punctuation.
 */
export const QUOTE = 0x22
export const BACKSLASH = 0x5c
export const COLON = 0x3a
export const COMMA = 0x2c
export const OPEN_OBJECT = 0x7b
export const CLOSE_OBJECT = 0x7d
export const OPEN_LIST = 0x5b
export const CLOSE_LIST = 0x5d

/** Deeper than this, a field is not pointed at: the pointer would be as long as the body. */
export const DEEPEST_POINTER = 32

/** How many times `byte` is in `body`, by a native search, counted up to `most + 1`. */
export function countByte (body: Buffer, byte: number, most = Infinity): number {
  let count = 0
  for (let at = body.indexOf(byte); at !== -1 && count <= most; at = body.indexOf(byte, at + 1)) count++
  return count
}

/** Where the string whose opening quote is at `at` ends: its closing quote (an escape's next byte skipped), or past the body. */
export function endOfString (body: Uint8Array, at: number): number {
  let close = at + 1
  while (close < body.length && body[close] !== QUOTE) close += body[close] === BACKSLASH ? 2 : 1
  return close
}
