import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError, pointerToken, validationError } from './errors.js'
import { BACKSLASH, CLOSE_LIST, CLOSE_OBJECT, COLON, countByte, DEEPEST_POINTER, endOfString, OPEN_LIST, OPEN_OBJECT, QUOTE } from './json-bytes.js'
import { LONGEST_SHOWN_HEADER, shortened } from './shortened.js'
import { repeatedKey } from './json-repeated-keys.js'

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i
const UTF8_NAMES = new Set(['utf-8', 'utf8'])

/** The charset a Content-Type names; the plain type, as most callers send it, has no parameter to read. */
export function charsetOf (contentType: string | undefined): string | undefined {
  return contentType === undefined || !contentType.includes(';') ? undefined : CHARSET.exec(contentType)?.[1]
}

/** Codings that leave a body as sent; an empty header lists none. */
const AS_SENT = new Set(['identity', ''])

/**
 * A refusal for a body sent compressed, as a content coding or a transfer coding: the gateway reads
 * bodies as sent. Node decodes `chunked` itself and hands the bytes of any other transfer coding
 * (`Transfer-Encoding: gzip, chunked`) on as they came: a plain body so labelled was sent, while a
 * proxy in front would have read it decompressed.
 */
export function unsupportedCoding (contentEncoding: string | undefined, transferEncoding?: string): GatewayError | undefined {
  if (contentEncoding !== undefined && !AS_SENT.has(contentEncoding.trim().toLowerCase())) {
    return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body uncompressed; Content-Encoding ${shortened(contentEncoding, LONGEST_SHOWN_HEADER)} is not supported.`)
  }
  if (transferEncoding !== undefined && transferEncoding.split(',').some((coding) => { const name = coding.trim().toLowerCase(); return name !== 'chunked' && !AS_SENT.has(name) })) {
    return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body uncompressed; Transfer-Encoding ${shortened(transferEncoding, LONGEST_SHOWN_HEADER)} is not supported.`)
  }
  return undefined
}

/**
 * Why a JSON body cannot be read as sent, or undefined when it can. fastify's own parser decodes
 * whatever arrives as UTF-8, replacing what is not with U+FFFD, and ignores both the charset and
 * the content coding: a Latin-1 "Café" went to the provider as "Caf\uFFFD". The text of an SMS is
 * sent as written, or refused.
 */
export function unreadableJsonBody (contentType: string | undefined, contentEncoding: string | undefined, body: Buffer, transferEncoding?: string): GatewayError | undefined {
  const charset = charsetOf(contentType)
  if (charset !== undefined && !UTF8_NAMES.has(charset.toLowerCase())) {
    return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body as application/json in UTF-8; charset=${shortened(charset, LONGEST_SHOWN_HEADER)} is not supported.`)
  }
  const coded = unsupportedCoding(contentEncoding, transferEncoding)
  if (coded !== undefined) return coded
  if (!isUtf8(body)) return new GatewayError('GW_BODY_MALFORMED', 'The body is not valid UTF-8.')
  return undefined
}

/**
 * Most keys one object of a JSON body may have; a body with a bigger one is refused before
 * JSON.parse builds it. A valid send body has at most 10 (the fields of SendSmsBodySchema, which
 * takes no others and whose values hold no object), a JSON report a handful; only repeating a key
 * (JSON.parse keeps its last value) could bring one near this. The default body limit holds one
 * object of ~120,000 short unknown keys: parsing it, with one Ajv error each, stalled the event loop
 * ~300 ms (then ~100,000; 10 MB of them, at SMS_MAX_RECIPIENTS=100000, ~4 s). As many as LONGEST_LIST_FOR_EVERY_ERROR:
 * an object brings Ajv no more errors of unknown fields than a list checked item by item does.
 */
export const MOST_KEYS_OF_AN_OBJECT = 1000
/** What one key takes of a valid JSON text, and shares with no other: its two quotes, its colon and its value's first byte. */
const LEAST_KEY_BYTES = 4

/**
 * The keys of the biggest object of a JSON text, counted up to `most + 1`. A key is a string
 * followed, past any whitespace, by a colon; it belongs to the innermost object open. The loop
 * knows where strings are (a quote inside one is escaped, and an escape's next byte is skipped),
 * so a `:` or `":` in a text, a phone or an id is not counted: for a valid JSON text the count is
 * that of the members JSON.parse makes, repeats included; for any other, that up to where the text
 * breaks, where JSON.parse stops too. The bytes of a multi-byte UTF-8 character are all 0x80 or
 * more: none is read as JSON's punctuation. Per object, not per body: objects nested thousands
 * deep, one key each, are answered as before (the field they are in is named).
 */
export function keysOfBiggestObject (body: Uint8Array, most: number): number {
  // The key counts of the objects (and lists) around the innermost, outermost first.
  const around: number[] = []
  let keys = 0
  let biggest = 0
  let inString = false
  let afterString = false
  for (let at = 0, end = body.length; at < end; at++) {
    const byte = body[at]
    if (inString) {
      if (byte === BACKSLASH) at++
      else if (byte === QUOTE) { inString = false; afterString = true }
      continue
    }
    if (byte === QUOTE) {
      inString = true
    } else if (byte === COLON && afterString) {
      if (++keys > biggest) biggest = keys
      if (biggest > most) return biggest
    } else if (byte === OPEN_OBJECT || byte === OPEN_LIST) {
      around.push(keys)
      keys = 0
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_LIST) {
      keys = around.pop() ?? 0
    }
    // Only whitespace may come between a key and its colon.
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) afterString = false
  }
  return biggest
}

/**
 * Whether a JSON body has an object of more than MOST_KEYS_OF_AN_OBJECT keys. Most bodies are told
 * by their length alone (a valid text of n bytes has n / LEAST_KEY_BYTES keys at most): one POST
 * /sms pays one comparison. A longer one, by its colons, which every key has one of (a send to many
 * recipients has two or three, found by a native search); only a body with more colons than that is
 * read byte by byte, up to the key past the limit.
 */
export function hasTooManyKeys (body: Buffer): boolean {
  if (body.length < LEAST_KEY_BYTES * (MOST_KEYS_OF_AN_OBJECT + 1)) return false
  return countByte(body, COLON, MOST_KEYS_OF_AN_OBJECT) > MOST_KEYS_OF_AN_OBJECT && keysOfBiggestObject(body, MOST_KEYS_OF_AN_OBJECT) > MOST_KEYS_OF_AN_OBJECT
}

/**
 * Most objects and lists a JSON body may hold, together; a body with more is refused before
 * JSON.parse builds them. A valid send has three at most (itself, and its two lists), a JSON report
 * one. Every one costs JSON.parse far more than its two bytes: the default body limit (~1 MiB)
 * holds ~350,000 empty objects, 70–100 ms of parsing that stalled every other request, and a
 * client may send 600 such bodies a minute; at SMS_MAX_RECIPIENTS=100000, ~1.3 s each.
 */
export const MOST_CONTAINERS = 1000

/** How many objects and lists a JSON text holds, and where they passed a bound. */
export interface Containers {
  /** counted up to `most + 1` */
  count: number
  /** the pointer to the member of the outermost object that holds the one past `most` ('' if none does) */
  field: string
}

/**
 * The objects and lists of a JSON text: its `{` and `[` outside its strings (found as
 * keysOfBiggestObject finds them). While inside a member of the outermost object, the last string
 * read at its level is that member's key: the one named when the count passes `most`.
 */
export function containersOf (body: Uint8Array, most: number): Containers {
  let count = 0
  let depth = 0
  let outermostIsObject = false
  let keyStart = -1
  let keyEnd = -1
  for (let at = 0, end = body.length; at < end; at++) {
    const byte = body[at]
    if (byte === QUOTE) {
      const start = at
      at = endOfString(body, at)
      if (depth === 1) { keyStart = start; keyEnd = at + 1 }
    } else if (byte === OPEN_OBJECT || byte === OPEN_LIST) {
      if (depth++ === 0) outermostIsObject = byte === OPEN_OBJECT
      if (++count > most) {
        const key = outermostIsObject && depth >= 2 && keyStart !== -1 ? decodedKey(body.subarray(keyStart, keyEnd)) : undefined
        return { count, field: key === undefined ? '' : `/${pointerToken(key)}` }
      }
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_LIST) {
      depth--
    }
  }
  return { count, field: '' }
}

/** A key as JSON.parse reads it, or undefined when it is no JSON string: the body is not parsed yet, and may be no JSON. */
function decodedKey (quoted: Uint8Array): string | undefined {
  try {
    return JSON.parse(Buffer.from(quoted).toString('utf8')) as string
  } catch {
    return undefined
  }
}

/**
 * Where a JSON body holds more than MOST_CONTAINERS objects and lists (a pointer, '' for the body
 * itself), or undefined when it holds no more. A body shorter than two bytes each cannot; a longer
 * one is told by its brackets, found by a native search (a send to many recipients has three), and
 * read byte by byte only when it has more than that, some of them perhaps inside its strings.
 */
export function tooManyContainersAt (body: Buffer): string | undefined {
  if (body.length < 2 * (MOST_CONTAINERS + 1)) return undefined
  if (countByte(body, OPEN_OBJECT, MOST_CONTAINERS) + countByte(body, OPEN_LIST, MOST_CONTAINERS) <= MOST_CONTAINERS) return undefined
  const { count, field } = containersOf(body, MOST_CONTAINERS)
  return count > MOST_CONTAINERS ? field : undefined
}

/**
 * Where a key secure-json-parse refuses sits: one that would reach an object's prototype (the
 * body itself, '', when it sits deeper than DEEPEST_POINTER). Walked without recursion: a refused
 * body may nest as deep as its bytes allow.
 */
function forbiddenKeyPointer (root: unknown): string | undefined {
  // The pointer is dropped (undefined) below DEEPEST_POINTER; the walk goes on.
  const stack: Array<[unknown, string | undefined, number]> = [[root, '', 0]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, pointer, depth] = next
    if (value === null || typeof value !== 'object') continue
    for (const key of Object.keys(value)) {
      const nested = (value as Record<string, unknown>)[key]
      const step = pointer === undefined || depth >= DEEPEST_POINTER ? undefined : `${pointer}/${pointerToken(key)}`
      if (key === '__proto__') return step ?? ''
      if (key === 'constructor' && nested !== null && typeof nested === 'object' && Object.hasOwn(nested, 'prototype')) return step === undefined ? '' : `${step}/prototype`
      stack.push([nested, step, depth + 1])
    }
  }
  return undefined
}

/** V8's reasons that quote nothing of the body: where it breaks, or the one character it stopped at. */
const POSITIONED_REASON = /^[^"]{1,100} JSON at position \d+(?: \(line \d+ column \d+\))?$/
const TOKEN_REASON = /^Unexpected token '[^'"]{1,2}'/

/** V8's reason for a JSON syntax error, when it can be told without the excerpt of the body some reasons quote. */
function reasonWithoutExcerpt (message: string): string | undefined {
  if (POSITIONED_REASON.test(message) || message === 'Unexpected end of JSON input') return message
  return TOKEN_REASON.exec(message)?.[0]
}

/**
 * Why fastify's parser refused a body, which its own error does not say: where the JSON breaks
 * (V8's words, less the excerpt of the body some of them quote, which would put a caller's numbers
 * in the log), or which key would have reached a prototype. Called only for a refused body.
 */
export function explainJsonRefusal (text: string): GatewayError {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    const reason = reasonWithoutExcerpt((error as Error).message)
    return new GatewayError('GW_BODY_MALFORMED', reason === undefined ? 'The body is not valid JSON.' : `The body is not valid JSON: ${reason}.`)
  }
  const field = forbiddenKeyPointer(parsed)
  if (field === undefined) return new GatewayError('GW_BODY_MALFORMED', 'The body is not valid JSON.')
  return validationError([field === ''
    ? { field, reason: 'has a key, nested deep, that would reach an object\'s prototype (__proto__, or constructor.prototype)' }
    : { field, reason: 'is not allowed: it would reach an object\'s prototype' }])
}

/** Replaces fastify's application/json parser with one that first checks what unreadableJsonBody checks, and counts the keys, and then refuses a key repeated in an object. */
export function useUtf8JsonParser (app: FastifyInstance): void {
  // Typed for string bodies, but it hands whatever it gets to secure-json-parse, which takes buffers too.
  const parseJson = app.getDefaultJsonParser('error', 'error') as unknown as (request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const unreadable = unreadableJsonBody(request.headers['content-type'], request.headers['content-encoding'], body as Buffer, request.headers['transfer-encoding'])
    if (unreadable !== undefined) return done(unreadable, undefined)
    if (hasTooManyKeys(body as Buffer)) {
      return done(validationError([{ field: '', reason: `has an object of more than ${MOST_KEYS_OF_AN_OBJECT} keys: no request the gateway takes has near that many` }]), undefined)
    }
    const crowded = tooManyContainersAt(body as Buffer)
    if (crowded !== undefined) {
      return done(validationError([{ field: crowded, reason: `holds more than ${MOST_CONTAINERS} objects and lists: no request the gateway takes has near that many` }]), undefined)
    }
    parseJson(request, body as Buffer, (error, parsed) => {
      if (error !== null && (body as Buffer).length > 0) return done(explainJsonRefusal((body as Buffer).toString('utf8')), undefined)
      const repeated = error === null ? repeatedKey(body as Buffer, parsed) : undefined
      if (repeated !== undefined) return done(validationError([repeated]), undefined)
      done(error, parsed)
    })
  })
}
