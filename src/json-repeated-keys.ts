import { pointerToken, type FieldError } from './errors.js'
import { CLOSE_LIST, CLOSE_OBJECT, COLON, COMMA, countByte, DEEPEST_POINTER, endOfString, OPEN_LIST, OPEN_OBJECT, QUOTE } from './json-bytes.js'

/** How a colon may be written inside a JSON string without a colon byte (`\u003a`, `\u003A`). */
const ESCAPED_COLON = '\\u003'

export const REPEATED_KEY_REASON = 'appears more than once in its object: JSON keeps only the last, which may not be the one meant. Send each field once'

/** The members of every object in a parsed JSON value. Walked without recursion: a body may nest as deep as its bytes allow. */
function membersOf (root: unknown): number {
  let members = 0
  const stack: unknown[] = [root]
  for (let value = stack.pop(); value !== undefined; value = stack.pop()) {
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) stack.push(item)
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) {
        members++
        const item = (value as Record<string, unknown>)[key]
        if (typeof item === 'object' && item !== null) stack.push(item)
      }
    }
  }
  return members
}

function colonsOf (text: string): number {
  let colons = 0
  for (let at = text.indexOf(':'); at !== -1; at = text.indexOf(':', at + 1)) colons++
  return colons
}

/**
 * The colons in a parsed JSON value's strings, keys included, counted until `enough` are found.
 * An object's own strings are looked at before what it holds: a send's text (where a colon is
 * likely, in a link) before its 100,000 numbers.
 */
function colonsInStrings (root: unknown, enough: number): number {
  let colons = 0
  const stack: unknown[] = [root]
  for (let value = stack.pop(); value !== undefined && colons < enough; value = stack.pop()) {
    if (typeof value === 'string') {
      colons += colonsOf(value)
    } else if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === 'object') stack.push(item); else if (typeof item === 'string') colons += colonsOf(item)
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) {
        colons += colonsOf(key)
        const item = (value as Record<string, unknown>)[key]
        if (typeof item === 'string') colons += colonsOf(item)
        else if (typeof item === 'object' && item !== null) stack.push(item)
      }
    }
  }
  return colons
}

interface Frame {
  /** an object's keys so far; undefined for a list */
  keys: Set<string> | undefined
  /** JSON pointer to this value; undefined past DEEPEST_POINTER */
  pointer: string | undefined
  /** the key of the member being read (object), or the index of the item (list) */
  at: string | number
}

/** The pointer to what `frame` is reading now. */
function pointerInto (frame: Frame | undefined, depth: number): string | undefined {
  if (frame === undefined) return ''
  if (frame.pointer === undefined || depth > DEEPEST_POINTER) return undefined
  return `${frame.pointer}/${typeof frame.at === 'number' ? frame.at : pointerToken(frame.at)}`
}

/**
 * The first key repeated in an object of a valid JSON text, read byte by byte: keys compared as
 * JSON.parse decodes them (`"te\u0078t"` is `"text"`).
 */
function firstRepeatedKey (body: Buffer): FieldError | undefined {
  const frames: Frame[] = []
  let keyNext = false
  for (let at = 0, end = body.length; at < end; at++) {
    const byte = body[at]
    if (byte === QUOTE) {
      const close = endOfString(body, at)
      const frame = frames.at(-1)
      if (keyNext && frame?.keys !== undefined) {
        const key = JSON.parse(body.toString('utf8', at, close + 1)) as string
        if (frame.keys.has(key)) {
          frame.at = key
          return { field: pointerInto(frame, frames.length) ?? '', reason: REPEATED_KEY_REASON }
        }
        frame.keys.add(key)
        frame.at = key
        keyNext = false
      }
      at = close
    } else if (byte === OPEN_OBJECT || byte === OPEN_LIST) {
      frames.push({ keys: byte === OPEN_OBJECT ? new Set() : undefined, pointer: pointerInto(frames.at(-1), frames.length), at: 0 })
      keyNext = byte === OPEN_OBJECT
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_LIST) {
      frames.pop()
    } else if (byte === COMMA) {
      const frame = frames.at(-1)!
      if (frame.keys !== undefined) keyNext = true
      else frame.at = (frame.at as number) + 1
    }
  }
  return undefined
}

/**
 * A key that appears twice in one object of a JSON body, which JSON.parse has read as `parsed`
 * (keeping the last of the two): `{"text":"Pay 10 PLN","text":"Pay 1000 PLN"}` would send the
 * second, while a proxy or log in front may have read the first. Undefined when every key is
 * alone in its object.
 *
 * Told without reading the body again, as a rule: every member of the text has one colon byte
 * outside its strings, so a text whose colons are as many as the members of `parsed` and the
 * colons in its strings has no member that JSON.parse dropped. Only a body with colons beyond
 * those, or with an escaped colon (`\u003a`, a colon in `parsed` without a colon byte), is read
 * byte by byte to find the repeated key.
 */
export function repeatedKey (body: Buffer, parsed: unknown): FieldError | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined
  // One colon byte per member of the text, and any inside its strings.
  const colons = countByte(body, COLON)
  const members = membersOf(parsed)
  if (colons === members) return undefined
  if (body.indexOf(ESCAPED_COLON) === -1 && members + colonsInStrings(parsed, colons - members) === colons) return undefined
  return firstRepeatedKey(body)
}
