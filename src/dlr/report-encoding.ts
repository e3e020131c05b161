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
