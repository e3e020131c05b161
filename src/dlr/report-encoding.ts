import { isUtf8 } from 'node:buffer'
import { parse } from 'node:querystring'
import { parse as parseQuery } from 'fast-querystring'
import type { DeliveryReportFields } from './report-fields.js'

/**
 * How the text of a report's query or form is decoded. The provider is Polish and its older
 * systems wrote ISO-8859-2 (Latin-2): a value whose bytes are not UTF-8 is read as Latin-2, never
 * as U+FFFD, so that `dor%EAczona` is the `doręczona` the state table knows. The signed fields
 * (`t`, `e`, `sig`) are base-36 and base64url, the same bytes in both: no decoding changes them.
 * @see ../../../shared/docs/serwersms-api.md "Delivery reports"
 */
export type ReportCharset = 'utf-8' | 'iso-8859-2'

const LATIN_2 = new TextDecoder('iso-8859-2')
/** WHATWG reads these labels as windows-1252; ASCII is UTF-8's subset, which is what a sender means by them. */
const ASCII_LABELS = new Set(['us-ascii', 'ascii'])
/** A piece with neither an escape nor a byte beyond ASCII is its own text. */
const NEEDS_DECODING = /[%\x80-\xff]/
const BEYOND_ASCII = /[\x80-\xff]/
/** A piece that decodes to other text: NEEDS_DECODING, or a '+' (a space). */
const ENCODED = /[%+\x80-\xff]/
const ESCAPE = /%([\da-f]{2})/gi
const HEX = 16

/** The charset a report's form may declare, under any of its labels; undefined for one this cannot decode. */
export function reportCharsetOf (label: string | undefined): ReportCharset | undefined {
  if (label === undefined) return 'utf-8'
  const name = label.toLowerCase()
  if (ASCII_LABELS.has(name)) return 'utf-8'
  let encoding: string
  try {
    encoding = new TextDecoder(name).encoding
  } catch {
    return undefined
  }
  return encoding === 'utf-8' || encoding === 'iso-8859-2' ? encoding : undefined
}

/** The bytes of a piece held one character per byte, its escapes undone (a stray '%' stays one). */
function bytesOf (piece: string): Buffer {
  return Buffer.from(piece.replace(ESCAPE, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, HEX))), 'latin1')
}

/** Decodes one key or value (its '+' already made %20 by the parser) from its bytes. */
function decoderFor (charset: ReportCharset): (piece: string) => string {
  return (piece) => {
    if (!NEEDS_DECODING.test(piece)) return piece
    const bytes = bytesOf(piece)
    return charset === 'utf-8' && isUtf8(bytes) ? bytes.toString('utf8') : LATIN_2.decode(bytes)
  }
}

const DECODERS: Readonly<Record<ReportCharset, (piece: string) => string>> = {
  'utf-8': decoderFor('utf-8'),
  'iso-8859-2': decoderFor('iso-8859-2')
}

export type ReportForm = Record<string, string | string[]>

/**
 * Parses form-encoded text held one character per byte (a body read as latin1, or a URL's
 * query, which Node refuses with bytes beyond ASCII): raw bytes and percent-escapes alike are
 * decoded in the charset given, and in UTF-8 a value that is not UTF-8 as Latin-2. A repeated
 * key gives an array, as fastify's own query parser does.
 */
export function parseReportForm (text: string, charset: ReportCharset): ReportForm {
  // The common case first, at fastify's own speed (its query parser, ~2 µs a report where a decoder
  // of our own on every piece took twice that): ASCII text in UTF-8, every escape decoded.
  if (charset === 'utf-8' && !BEYOND_ASCII.test(text)) {
    const form = parseQuery(text) as ReportForm
    if (!Object.values(form).some(keptEscapes)) return form
  }
  return parse(text, '&', '=', { maxKeys: 0, decodeURIComponent: DECODERS[charset] }) as ReportForm
}

/** fast-querystring leaves a value whose escapes are not UTF-8 as it came, escapes and all. */
function keptEscapes (value: string | string[]): boolean {
  return typeof value === 'string' ? value.includes('%') : value.some((item) => item.includes('%'))
}

/**
 * The most fields a report's query or form may have: one the gateway signed has seven (`t`, `e`,
 * `sig` and the provider's four), and a push that posts it again adds a few. Anyone may send more
 * to the public /dlr, and every one of them costs a decoding: a form of thousands, or a few long
 * ones of Latin-2 escapes, cost 30 times the CPU of a report; so a text of more is refused before
 * it is parsed, and its signature read from it apart (readSignedFields).
 */
export const MAX_REPORT_FIELDS = 32
const AMPERSAND = '&'
const EQUALS = '='.charCodeAt(0)

/** Whether form-encoded text has more than `limit` fields ('&'-separated pieces, empty ones too); it looks no further than the one over. */
export function hasMoreFieldsThan (text: string, limit: number): boolean {
  let at = -1
  for (let separators = 0; separators < limit; separators++) {
    at = text.indexOf(AMPERSAND, at + 1)
    if (at === -1) return false
  }
  return true
}

/** The fields of the gateway's signature (signing.ts): the only ones read before it is checked. */
const SIGNED_NAMES: ReadonlySet<string> = new Set(['t', 'e', 'sig'])
/** The longest text a name can have and still decode to one of SIGNED_NAMES: `sig`, every byte escaped. */
const MAX_SIGNED_NAME_CHARS = 9
/**
 * The longest text of a signed field that is decoded: a signature of the gateway's is 43 base64url
 * characters, 129 when every one of them is escaped, and its times are shorter. A longer value
 * that needs decoding cannot decode to one of the gateway's (a signature would be longer than 43
 * characters; a time is never issued with leading zeros), and is read as empty, which is refused
 * as such a value would be: not the shape of a signature, not a base-36 time. (Only a time of
 * some 40 leading zeros, escaped, and a signature of the right shape would be refused otherwise:
 * as no signature, rather than as a forged one.)
 */
const MAX_SIGNED_VALUE_CHARS = 129

const PERCENT = '%'.charCodeAt(0)
const LETTER_T = 't'.charCodeAt(0)
const LETTER_E = 'e'.charCodeAt(0)

/** The signed name text[start, end) spells without escapes, if it is one; nothing is allocated. */
function plainSignedName (text: string, start: number, end: number): string | undefined {
  const length = end - start
  if (length === 1) {
    const code = text.charCodeAt(start)
    return code === LETTER_T ? 't' : code === LETTER_E ? 'e' : undefined
  }
  return length === 3 && text.startsWith('sig', start) ? 'sig' : undefined
}

/** One name or value of form text, '+' a space, decoded as parseReportForm decodes it. */
function decodePiece (piece: string, decode: (piece: string) => string): string {
  return decode(piece.includes('+') ? piece.replaceAll('+', '%20') : piece)
}

/**
 * The signature's fields (`t`, `e`, `sig`) of form-encoded text, read as parseReportForm would
 * read them (a repeated one an array), without decoding any other field: what the signature is
 * checked on before the rest of a report is parsed. Its work grows with the number of fields,
 * never with what the other fields hold.
 */
export function readSignedFields (text: string, charset: ReportCharset): ReportForm {
  const decode = DECODERS[charset]
  const fields: ReportForm = Object.create(null) as ReportForm
  for (let start = 0; start < text.length;) {
    let end = text.indexOf(AMPERSAND, start)
    if (end === -1) end = text.length
    // The name ends at the piece's first '=', looked for only as far as a signed name could reach.
    const nameLimit = Math.min(end, start + MAX_SIGNED_NAME_CHARS + 1)
    let nameEnd = start
    let escaped = false
    while (nameEnd < nameLimit) {
      const code = text.charCodeAt(nameEnd)
      if (code === EQUALS) break
      if (code === PERCENT) escaped = true
      nameEnd++
    }
    if (nameEnd < nameLimit || nameEnd === end) {
      // Only an escape can make a name other text that is a signed one ('+' is a space, a byte
      // beyond ASCII never decodes to ASCII): the other names are compared as they are.
      const name = escaped ? decodePiece(text.slice(start, nameEnd), decode) : plainSignedName(text, start, nameEnd)
      if (name !== undefined && SIGNED_NAMES.has(name)) {
        const raw = nameEnd === end ? '' : text.slice(nameEnd + 1, end)
        const value = raw.length <= MAX_SIGNED_VALUE_CHARS ? decodePiece(raw, decode) : ENCODED.test(raw) ? '' : raw
        const previous = fields[name]
        fields[name] = previous === undefined ? value : typeof previous === 'string' ? [previous, value] : [...previous, value]
      }
    }
    start = end + 1
  }
  return fields
}

/** Marks a query of more than MAX_REPORT_FIELDS fields, parsed by parseBoundedQuery. */
const TOO_MANY_FIELDS = Symbol('more fields than a delivery report has')

/**
 * The gateway's querystringParser (fastify's option): a query string of at most MAX_REPORT_FIELDS
 * fields is parsed as fastify's own parser does (no other route reads more); of more, only the
 * signature's fields are read, and the query is marked, for GET/POST /dlr to refuse once it has
 * checked that signature. fastify parses every request's query before any hook runs.
 */
export function parseBoundedQuery (text: string): Record<string, unknown> {
  if (!hasMoreFieldsThan(text, MAX_REPORT_FIELDS)) return text.length === 0 ? {} : parseQuery(text) as Record<string, unknown>
  return Object.defineProperty(readSignedFields(text, 'utf-8'), TOO_MANY_FIELDS, { value: true })
}

/** Whether parseBoundedQuery found more fields than a report has in this query. */
export function hasTooManyFields (query: unknown): boolean {
  return typeof query === 'object' && query !== null && Object.hasOwn(query, TOO_MANY_FIELDS)
}

/** The query of a request URL, parsed as parseReportForm does. */
export function parseReportQuery (url: string): ReportForm {
  const start = url.indexOf('?')
  return parseReportForm(start === -1 ? '' : url.slice(start + 1), 'utf-8')
}

/**
 * Whether a field kept a '%': fastify's query parser leaves a value whose escapes are not UTF-8
 * as it came, escapes and all. A '%' is rare in a report, so the query is parsed again only then.
 */
export function mayHoldUndecodedEscapes ({ messageId, state, date, reason }: DeliveryReportFields): boolean {
  return messageId.includes('%') || state.includes('%') || date?.includes('%') === true || reason?.includes('%') === true
}
