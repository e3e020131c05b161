import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { signDeliveryUrl } from '../../src/dlr/signing.js'
import type { ErrorCode } from '../../src/errors.js'
import { DLR_SECRET, startGateway, type GatewayUnderTest } from '../helper.js'
import {
  assertPrototypesIntact, checkProperty, errorLogLines, fuzzSeed, inject, overSocket, readProblem, snapshotPrototypes,
  type Answer, type Call
} from './helpers.js'

/**
 * GET/POST /dlr under generated queries and bodies: only a URL the gateway signed, unexpired and
 * untouched, with a message id and a state, is answered OK; everything else is a problem, never
 * a 5xx, and nothing ever reaches the provider.
 */

const PUBLIC_URL = 'https://sms.example.com'
const FUZZ_ENV = { PUBLIC_URL, DLR_SECRET, LOG_LEVEL: 'info' }
const RUNS = { get: 2500, post: 1500, socket: 300, garbage: 1000 }
const MAX_FIELD_LENGTH = 200
const DAY_MS = 86_400_000

const seed = fuzzSeed()
t.comment(`FUZZ_SEED=${seed}`)

// ---------------------------------------------------------------------------------------------
// Report fields, as the provider fills them in
// ---------------------------------------------------------------------------------------------

/** The names a report field may arrive under, in the order the gateway looks for them. */
const FIELD_NAMES = {
  messageId: ['smsid', 'id', 'sms_id'],
  state: ['stan', 'status', 'state'],
  date: ['data', 'date'],
  reason: ['przyczyna', 'reason']
} as const
type FieldKey = keyof typeof FIELD_NAMES
const CANONICAL: Record<FieldKey, string> = { messageId: 'smsid', state: 'stan', date: 'data', reason: 'przyczyna' }
const RESERVED = new Set<string>([...Object.values(FIELD_NAMES).flat(), 't', 'e', 'sig'])

const wellFormedUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcdef0123456789XYZ _-.:'.split('')) },
  { weight: 2, arbitrary: fc.constantFrom('&', '=', '+', '#', '%', '?', '/', ';', '[', ']', '"', "'", '<', '>', '\\') },
  { weight: 2, arbitrary: fc.constantFrom('ą', 'ę', 'ł', '€', '😀', '\u200b', '\t', '\n') }
)
const PLACEHOLDERS = ['#SMSID#', '#STAN#', '#DATA#', '#PRZYCZYNA#']

/** A field value and whether the gateway must read it as present (`ok`), absent or broken. */
interface FieldValue { value: string | undefined, reading: 'ok' | 'absent' | 'broken' }

const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit: wellFormedUnit, minLength: 1, maxLength: 60 }).filter((s) => s.trim() !== '' && !/^#[A-Z]+#$/.test(s.trim())).map((value): FieldValue => ({ value, reading: 'ok' })) },
  { weight: 3, arbitrary: fc.constantFrom('delivered', 'undelivered', 'sent', 'doręczona', 'wrong_number', '1c142d81c7', '0', '2024-05-01 12:00:05').map((value): FieldValue => ({ value, reading: 'ok' })) },
  { weight: 1, arbitrary: fc.constant<FieldValue>({ value: undefined, reading: 'absent' }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', ...PLACEHOLDERS, ` ${PLACEHOLDERS[0]!} `).map((value): FieldValue => ({ value, reading: 'absent' })) },
  { weight: 1, arbitrary: fc.string({ unit: wellFormedUnit, minLength: MAX_FIELD_LENGTH + 1, maxLength: MAX_FIELD_LENGTH + 100 }).map((value): FieldValue => ({ value, reading: 'broken' })) }
)

const fields = fc.record({ messageId: fieldValue, state: fieldValue, date: fieldValue, reason: fieldValue })
type Fields = Record<FieldKey, FieldValue>

/**
 * What the gateway must make of the fields: accept them, or refuse them as malformed. Only the
 * message id and the state refuse a report; a date or a reason it cannot read is set aside.
 */
function fieldsAccepted (values: Fields): boolean {
  return values.messageId.reading === 'ok' && values.state.reading === 'ok'
}

// ---------------------------------------------------------------------------------------------
// Signatures, authentic and tampered with
// ---------------------------------------------------------------------------------------------

interface Signature { t?: string, e?: string, sig: string }

function signatureFor (sentAt: number | undefined, expiresAt: number | undefined): Signature {
  const signed = new URL(signDeliveryUrl(PUBLIC_URL, DLR_SECRET, { sentAt, expiresAt }).replaceAll('#', ''))
  const result: Signature = { sig: signed.searchParams.get('sig')! }
  const tValue = signed.searchParams.get('t')
  const eValue = signed.searchParams.get('e')
  if (tValue !== null) result.t = tValue
  if (eValue !== null) result.e = eValue
  return result
}

type Verdict = 'authentic' | 'unsigned' | 'forged' | 'expired'
const CODE_BY_VERDICT: Record<Exclude<Verdict, 'authentic'>, ErrorCode> = {
  unsigned: 'GW_DLR_SIGNATURE_MISSING',
  forged: 'GW_DLR_SIGNATURE_INVALID',
  expired: 'GW_DLR_EXPIRED'
}

interface SignedQuery { params: Array<[string, string]>, verdict: Verdict, description: string }

const authenticTimes = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 30 * DAY_MS }), fc.integer({ min: 60_000, max: 30 * DAY_MS })).map(([age, left]) => ({ sentAt: Date.now() - age, expiresAt: Date.now() + left })) },
  { weight: 1, arbitrary: fc.constant({ sentAt: undefined, expiresAt: undefined }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: DAY_MS }).map((age) => ({ sentAt: Date.now() - age, expiresAt: undefined })) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: DAY_MS }).map((left) => ({ sentAt: undefined, expiresAt: Date.now() + left })) }
)

const signatureParams = (s: Signature): Array<[string, string]> => [
  ...(s.t === undefined ? [] : [['t', s.t] as [string, string]]),
  ...(s.e === undefined ? [] : [['e', s.e] as [string, string]]),
  ['sig', s.sig]
]

const otherChar = (c: string) => c === 'A' ? 'B' : 'A'
/** Not lower-case base 36, or too large a number to be a time. */
const NOT_BASE36 = ['', 'A', 'ZZ', '-1', '1.5', ' 1', 'lq2x!', 'ł', '1'.repeat(20), 'z'.repeat(12)]

/** An authentic signature, and the ways a caller could tamper with it. */
const signedQuery: fc.Arbitrary<SignedQuery> = fc.tuple(authenticTimes, fc.nat(), fc.constantFrom(
  'authentic', 'authentic', 'authentic', 'authentic',
  'sig-char', 'sig-truncated', 'sig-appended', 'sig-empty', 'sig-case', 'sig-missing', 'sig-other-secret',
  't-changed', 't-added', 't-removed', 't-not-base36', 'e-extended', 'e-not-base36', 'e-removed', 'leading-zero',
  'expired', 'repeated'
)).map(([times, n, how]): SignedQuery => {
  const s = signatureFor(times.sentAt, times.expiresAt)
  const at = n % s.sig.length
  const nb = NOT_BASE36[n % NOT_BASE36.length]!
  switch (how) {
    case 'authentic': return { params: signatureParams(s), verdict: 'authentic', description: how }
    case 'sig-char': return { params: signatureParams({ ...s, sig: s.sig.slice(0, at) + otherChar(s.sig[at]!) + s.sig.slice(at + 1) }), verdict: 'forged', description: how }
    case 'sig-truncated': return { params: signatureParams({ ...s, sig: s.sig.slice(0, at) }), verdict: 'forged', description: how }
    case 'sig-appended': return { params: signatureParams({ ...s, sig: `${s.sig}${'A'.repeat(1 + (n % 3))}` }), verdict: 'forged', description: how }
    case 'sig-empty': return { params: signatureParams({ ...s, sig: '' }), verdict: 'forged', description: how }
    case 'sig-case': {
      const flipped = s.sig.replace(/[a-z]/, (c) => c.toUpperCase())
      return flipped === s.sig
        ? { params: signatureParams(s), verdict: 'authentic', description: 'authentic' }
        : { params: signatureParams({ ...s, sig: flipped }), verdict: 'forged', description: how }
    }
    case 'sig-missing': return { params: signatureParams(s).filter(([name]) => name !== 'sig'), verdict: 'unsigned', description: how }
    case 'sig-other-secret': {
      const url = new URL(signDeliveryUrl(PUBLIC_URL, `${DLR_SECRET}x`, times).replaceAll('#', ''))
      return { params: signatureParams({ ...s, sig: url.searchParams.get('sig')! }), verdict: 'forged', description: how }
    }
    case 't-changed': return { params: signatureParams({ ...s, t: ((times.sentAt ?? 0) + 1 + (n % 1000)).toString(36) }), verdict: 'forged', description: how }
    case 't-added': return s.t === undefined
      ? { params: signatureParams({ ...s, t: (Date.now() - n).toString(36) }), verdict: 'forged', description: how }
      : { params: signatureParams(s), verdict: 'authentic', description: 'authentic' }
    case 't-removed': {
      if (s.t === undefined) return { params: signatureParams(s), verdict: 'authentic', description: 'authentic' }
      const { t: _removed, ...rest } = s
      return { params: signatureParams(rest), verdict: 'forged', description: how }
    }
    case 't-not-base36': return { params: signatureParams({ ...s, t: nb }), verdict: 'unsigned', description: `${how} ${JSON.stringify(nb)}` }
    case 'e-extended': return { params: signatureParams({ ...s, e: ((times.expiresAt ?? Date.now()) + DAY_MS * (1 + (n % 365))).toString(36) }), verdict: 'forged', description: how }
    case 'e-not-base36': return { params: signatureParams({ ...s, e: nb }), verdict: 'unsigned', description: `${how} ${JSON.stringify(nb)}` }
    case 'e-removed': {
      if (s.e === undefined) return { params: signatureParams(s), verdict: 'authentic', description: 'authentic' }
      const { e: _removed, ...rest } = s
      return { params: signatureParams(rest), verdict: 'forged', description: how }
    }
    case 'leading-zero': return s.t === undefined
      ? { params: signatureParams(s), verdict: 'authentic', description: 'authentic' }
      : { params: signatureParams({ ...s, t: `0${s.t}` }), verdict: 'forged', description: how }
    case 'expired': {
      const expiresAt = Date.now() - 1000 - (n % (30 * DAY_MS))
      return { params: signatureParams(signatureFor(expiresAt - DAY_MS, expiresAt)), verdict: 'expired', description: how }
    }
    default: {
      // Any parameter given twice, even with the same value, is refused as tampering.
      const params = signatureParams(s)
      const repeated = params[n % params.length]!
      return { params: [...params, repeated], verdict: 'unsigned', description: `${how} ${repeated[0]}` }
    }
  }
})

/** Extra parameters the gateway must ignore (only when given once). */
const noiseParams = fc.array(fc.tuple(
  fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', 'foo', 'x[]', 'a[b]', 'smsid2', ''), fc.string({ unit: wellFormedUnit, maxLength: 12 })),
  fc.string({ unit: wellFormedUnit, maxLength: 30 })
), { maxLength: 4 }).map((params) => {
  const seen = new Set<string>()
  return params.filter(([name]) => {
    if (RESERVED.has(name) || seen.has(name)) return false
    seen.add(name)
    return true
  })
})

const encode = (params: Array<[string, string]>) => params.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&')

function fieldParams (values: Fields): Array<[string, string]> {
  const params: Array<[string, string]> = []
  for (const key of Object.keys(CANONICAL) as FieldKey[]) {
    const value = values[key].value
    if (value !== undefined) params.push([CANONICAL[key], value])
  }
  return params
}

interface DlrCase { description: string, call: Call, expect: Expected }
type Expected =
  | { kind: 'ok' }
  | { kind: 'problem', status: number, codes: ErrorCode[] }
  /** anything but OK: garbage */
  | { kind: 'refused' }

function expectationFor (query: SignedQuery, accepted: boolean): Expected {
  if (query.verdict !== 'authentic') return { kind: 'problem', status: query.verdict === 'unsigned' ? 401 : 403, codes: [CODE_BY_VERDICT[query.verdict]] }
  return accepted ? { kind: 'ok' } : { kind: 'problem', status: 400, codes: ['GW_VALIDATION_FAILED'] }
}

const getCase: fc.Arbitrary<DlrCase> = fc.tuple(signedQuery, fields, noiseParams, fc.nat()).map(([query, values, noise, n]) => {
  const params = [...fieldParams(values), ...query.params, ...noise]
  // The order of parameters must not matter.
  const rotated = params.length === 0 ? params : [...params.slice(n % params.length), ...params.slice(0, n % params.length)]
  return {
    description: `GET ${query.description}`,
    call: { method: 'GET', url: `/dlr?${encode(rotated)}`, headers: {} },
    expect: expectationFor(query, fieldsAccepted(values))
  }
})

/** A report field repeated in the query: a malformed report at a URL we signed, else refused for its signature. */
const repeatedFieldCase: fc.Arbitrary<DlrCase> = fc.tuple(signedQuery, fields, fc.constantFrom<FieldKey>('messageId', 'state', 'date', 'reason'), fc.string({ unit: wellFormedUnit, maxLength: 20 }))
  .map(([query, values, key, again]) => ({
    description: `GET ${CANONICAL[key]} repeated`,
    call: {
      method: 'GET',
      url: `/dlr?${encode([...fieldParams(values).filter(([name]) => name !== CANONICAL[key]), [CANONICAL[key], values[key].value ?? 'first'], [CANONICAL[key], again], ...query.params])}`,
      headers: {}
    },
    // A repeated date or reason is set aside; a repeated id or state refuses the report.
    expect: expectationFor(query, key === 'date' || key === 'reason' ? fieldsAccepted(values) : false)
  }))

// ---------------------------------------------------------------------------------------------
// POST bodies
// ---------------------------------------------------------------------------------------------

/** What the gateway reads from a body field: a value, nothing, or a refusal. */
function readValue (value: unknown): { reading: 'ok' | 'absent' | 'broken' } {
  if (value === null) return { reading: 'absent' }
  if (typeof value === 'number') return { reading: Number.isSafeInteger(value) && value >= 0 ? 'ok' : 'broken' }
  if (typeof value !== 'string' || value.length > MAX_FIELD_LENGTH) return { reading: 'broken' }
  const trimmed = value.trim()
  return { reading: trimmed === '' || /^#[A-Z]+#$/.test(trimmed) ? 'absent' : 'ok' }
}

/**
 * Each field from the sources in order (the signed query, then the body), name by name: the first
 * usable value decides it, an unusable one refuses it, and a blank one or a placeholder is passed over.
 */
function combinedReading (sources: Array<Record<string, unknown>>): boolean {
  const readings: Record<FieldKey, 'ok' | 'absent' | 'broken'> = { messageId: 'absent', state: 'absent', date: 'absent', reason: 'absent' }
  for (const key of Object.keys(FIELD_NAMES) as FieldKey[]) {
    readings[key] = sources.flatMap((source) => FIELD_NAMES[key].filter((name) => Object.hasOwn(source, name)).map((name) => readValue(source[name]).reading))
      .find((reading) => reading !== 'absent') ?? 'absent'
  }
  return readings.messageId === 'ok' && readings.state === 'ok'
}

/** A field's first usable value in one source, as the gateway picks it; undefined when absent or unusable. */
function usableValue (source: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const name of names) {
    if (!Object.hasOwn(source, name)) continue
    const value = source[name]
    const { reading } = readValue(value)
    if (reading === 'broken') return undefined
    if (reading === 'ok') return typeof value === 'number' ? String(value) : String(value).trim()
  }
  return undefined
}

/** The body joins the signed query only when it names no other message than the query does. */
function aboutOneMessage (query: Record<string, unknown>, body: Record<string, unknown>): Array<Record<string, unknown>> {
  const signedId = usableValue(query, FIELD_NAMES.messageId)
  const bodyId = usableValue(body, FIELD_NAMES.messageId)
  return signedId !== undefined && bodyId !== undefined && bodyId !== signedId ? [query] : [query, body]
}

const POLLUTION_BODIES = [
  '{"__proto__":{"polluted":"yes"},"smsid":"abc","stan":"delivered"}',
  '{"constructor":{"prototype":{"polluted":"yes"}},"smsid":"abc","stan":"delivered"}',
  '{"smsid":{"__proto__":{"polluted":"yes"}},"stan":"delivered"}'
]

type Body =
  | { kind: 'none' }
  | { kind: 'json', raw: string, parsed: unknown }
  | { kind: 'malformed-json', raw: string }
  | { kind: 'form', raw: string, parsed: Record<string, unknown> }
  | { kind: 'unsupported', raw: string, contentType: string }
  | { kind: 'pollution', raw: string }

const bodyFieldValue = fc.oneof(
  { weight: 6, arbitrary: fieldValue.map((v) => v.value) },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) }
)

const jsonBody: fc.Arbitrary<Body> = fc.oneof(
  fc.dictionary(fc.constantFrom('smsid', 'id', 'sms_id', 'stan', 'status', 'state', 'data', 'date', 'przyczyna', 'reason', 'other', 'constructor', 'prototype'), bodyFieldValue, { maxKeys: 6 }),
  fc.jsonValue({ maxDepth: 3 })
).map((value) => {
  const raw = JSON.stringify(value) ?? 'null'
  return { kind: 'json', raw, parsed: JSON.parse(raw) as unknown }
})

const formBody: fc.Arbitrary<Body> = fc.tuple(fields, noiseParams, fc.option(fc.constantFrom<FieldKey>('messageId', 'state'), { nil: undefined }))
  .map(([values, noise, repeated]) => {
    const params = [...fieldParams(values), ...noise]
    if (repeated !== undefined) params.push([CANONICAL[repeated], 'again'])
    const parsed: Record<string, unknown> = {}
    for (const [name, value] of params) {
      const previous = parsed[name]
      parsed[name] = previous === undefined ? value : [previous, value].flat()
    }
    return { kind: 'form', raw: encode(params), parsed }
  })

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  { weight: 5, arbitrary: jsonBody },
  { weight: 5, arbitrary: formBody },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"smsid":', '{"smsid":"a",}', 'smsid=a&stan=b', '\u0000', "{'smsid':'a'}").map((raw): Body => ({ kind: 'malformed-json', raw })) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom('text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'text/csv')).map(([raw, contentType]): Body => ({ kind: 'unsupported', raw, contentType })) },
  { weight: 1, arbitrary: fc.constantFrom(...POLLUTION_BODIES).map((raw): Body => ({ kind: 'pollution', raw })) }
)

/** Keys secure-json-parse refuses: `__proto__` anywhere, `constructor` holding `prototype`. */
const PROTOTYPE_POISONING = /"__proto__"\s*:|"constructor"\s*:\s*\{[^}]*"prototype"\s*:/

function postCaseFor (query: SignedQuery, values: Fields, posted: Body): DlrCase {
  const url = `/dlr?${encode([...fieldParams(values), ...query.params])}`
  const queryObject = Object.fromEntries(fieldParams(values))
  const description = `POST ${posted.kind} body, ${query.description}`
  // A URL that carries a signature which does not verify is refused before its body is read.
  const refusedFirst = query.verdict !== 'authentic' && query.params.some(([name]) => name === 'sig')
  switch (posted.kind) {
    case 'none':
      return { description, call: { method: 'POST', url }, expect: expectationFor(query, fieldsAccepted(values)) }
    case 'malformed-json':
      return { description, call: { method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: posted.raw }, expect: refusedFirst ? expectationFor(query, false) : { kind: 'problem', status: 400, codes: ['GW_BODY_MALFORMED'] } }
    case 'unsupported':
      // Set aside: the report is read from the URL, as if nothing had been posted.
      return { description, call: { method: 'POST', url, headers: { 'content-type': posted.contentType }, payload: posted.raw }, expect: expectationFor(query, fieldsAccepted(values)) }
    case 'pollution':
      // The JSON parser may refuse these outright; if it lets one through, the signature still decides.
      return { description, call: { method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: posted.raw }, expect: { kind: 'refused' } }
    case 'json':
    case 'form': {
      if (posted.kind === 'json' && PROTOTYPE_POISONING.test(posted.raw)) {
        // fastify's JSON parser refuses such a body before anything but the URL's signature is
        // looked at; the refusal names the key as a field (src/json-body.ts).
        return { description, call: { method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: posted.raw }, expect: refusedFirst ? expectationFor(query, false) : { kind: 'problem', status: 400, codes: ['GW_VALIDATION_FAILED'] } }
      }
      const sources = typeof posted.parsed === 'object' && posted.parsed !== null && !Array.isArray(posted.parsed)
        ? aboutOneMessage(queryObject, posted.parsed as Record<string, unknown>)
        : [queryObject]
      const contentType = posted.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'
      return { description, call: { method: 'POST', url, headers: { 'content-type': contentType }, payload: posted.raw }, expect: expectationFor(query, combinedReading(sources)) }
    }
  }
}

const postCase: fc.Arbitrary<DlrCase> = fc.tuple(signedQuery, fields, body).map(([query, values, posted]) => postCaseFor(query, values, posted))

// ---------------------------------------------------------------------------------------------
// Garbage: query strings nobody signed
// ---------------------------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code))
const garbageUnit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcst019=&=&%+?/[].;,'.split('')) },
  { weight: 2, arbitrary: fc.constantFrom('sig=', 't=', 'e=', 'smsid=', 'stan=', '%00', '%ZZ', '%E0%A4', '%C0%AF', '%ED%A0%80', '%25', '%26', '%3D', '__proto__', 'constructor[prototype]') },
  { weight: 1, arbitrary: fc.constantFrom('ą', '😀', ' ', '"', '<', '\\', '^', '`', '{', '|', '}') },
  { weight: 1, arbitrary: loneSurrogate }
)

/** Percent-encodes what an HTTP client could not put on the wire as is, lone surrogates included (as broken UTF-8). */
function wireSafe (text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (code >= 0xd800 && code <= 0xdfff) {
      out += `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase()
    } else if (code > 0x20 && code < 0x7f && !'"<>\\^`{|}'.includes(char)) {
      out += char
    } else {
      out += encodeURIComponent(char)
    }
  }
  return out
}

const garbageCase: fc.Arbitrary<DlrCase> = fc.tuple(
  fc.oneof(fc.string({ unit: garbageUnit, maxLength: 80 }), fc.webQueryParameters(), fc.string({ unit: 'binary', maxLength: 60 })),
  fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
  fc.constantFrom('/dlr?', '/dlr/?', '/dlr?sig=&', '/dlr??', '/dlr?&&&')
).map(([garbage, method, prefix]) => ({
  description: `${method} garbage query`,
  call: { method, url: `${prefix}${wireSafe(garbage)}`, headers: {} },
  expect: { kind: 'refused' }
}))

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

interface Tally { accepted: number, refusedByRoute: number, validationWithoutFields: string[] }

function check (gw: GatewayUnderTest, c: DlrCase, answer: Answer, tally: Tally): void {
  assert.equal(gw.simulator.stats.requests, 0, 'a delivery report never reaches the provider')
  if (c.expect.kind === 'ok') {
    assert.equal(answer.status, 200, `${c.description}: an authentic report is accepted, got ${answer.status} ${answer.body.slice(0, 300)} for ${c.call.url.slice(0, 300)}`)
    assert.match(answer.contentType, /^text\/plain/)
    assert.equal(answer.body, 'OK')
    tally.accepted++
    return
  }
  const problem = readProblem(answer)
  if (c.expect.kind === 'problem') {
    assert.equal(answer.status, c.expect.status, `${c.description}: expected ${c.expect.status}, got ${answer.status} ${problem.code} (${problem.detail}) for ${c.call.url.slice(0, 300)}`)
    assert.ok(c.expect.codes.includes(problem.code), `${c.description}: code ${problem.code} not in ${c.expect.codes.join(',')}`)
  } else {
    assert.ok([400, 401, 403, 404, 415].includes(answer.status), `${c.description}: refused with ${answer.status} ${problem.code}`)
  }
  // Every refusal of /dlr is counted, one of a body fastify could not read included; a 404 never reached it.
  if (answer.status !== 404) tally.refusedByRoute++
  if (problem.code === 'GW_VALIDATION_FAILED' && problem.errors === undefined && tally.validationWithoutFields.length < 5) {
    tally.validationWithoutFields.push(`${c.call.method} ${c.call.url.slice(0, 120)} → ${problem.detail}`)
  }
}

/** Sums a counter over all its label sets from the Prometheus text. */
function counterTotal (metrics: string, name: string): number {
  let total = 0
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

t.test('generated delivery reports: only authentic, untouched, unexpired URLs are accepted', async (t) => {
  const gw = await startGateway(t, { env: FUZZ_ENV })
  const prototypes = snapshotPrototypes()
  const tally: Tally = { accepted: 0, refusedByRoute: 0, validationWithoutFields: [] }

  const getRuns = await checkProperty(t, 'GET /dlr with signed, tampered and repeated parameters', fc.asyncProperty(
    fc.oneof({ weight: 5, arbitrary: getCase }, { weight: 1, arbitrary: repeatedFieldCase }),
    async (c) => check(gw, c, await inject(gw, c.call), tally)
  ), { seed, numRuns: RUNS.get })

  await checkProperty(t, 'POST /dlr with form, JSON and broken bodies', fc.asyncProperty(postCase, async (c) => check(gw, c, await inject(gw, c.call), tally)), { seed, numRuns: RUNS.post })

  await checkProperty(t, 'garbage query strings', fc.asyncProperty(garbageCase, async (c) => check(gw, c, await inject(gw, c.call), tally)), { seed, numRuns: RUNS.garbage })

  t.ok(tally.accepted > getRuns / 10, `authentic reports were generated and accepted (${tally.accepted}, ${getRuns} GET cases)`)
  const metrics = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(
    counterTotal(metrics, 'sms_gateway_delivery_reports_total') + counterTotal(metrics, 'sms_gateway_delivery_reports_duplicate_total'),
    tally.accepted,
    'every accepted report is counted once, as new or as a repeat'
  )
  t.equal(counterTotal(metrics, 'sms_gateway_delivery_reports_rejected_total'), tally.refusedByRoute, 'every refused report is counted as rejected')
  assertPrototypesIntact(prototypes)
  t.same(errorLogLines(gw), [], 'no report made the gateway log an error')
  t.equal(gw.simulator.stats.requests, 0, 'the provider saw nothing')

  // The house style wants every validation problem to carry `errors`, naming the failing field.
  t.same(tally.validationWithoutFields, [], 'every 400 validation problem names its fields in `errors`')
})

t.test('delivery reports over a real socket', async (t) => {
  const gw = await startGateway(t, { env: FUZZ_ENV })
  const prototypes = snapshotPrototypes()
  const tally: Tally = { accepted: 0, refusedByRoute: 0, validationWithoutFields: [] }
  await checkProperty(t, 'over a socket', fc.asyncProperty(
    fc.oneof({ weight: 3, arbitrary: getCase }, { weight: 2, arbitrary: postCase }, { weight: 1, arbitrary: garbageCase }),
    async (c) => check(gw, c, await overSocket(gw, c.call), tally)
  ), { seed, numRuns: RUNS.socket })
  assertPrototypesIntact(prototypes)
  t.same(errorLogLines(gw), [], 'no report made the gateway log an error')
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the gateway still answers')
})

// Without fastify's `frameworkErrors` (src/server-options.ts), a path with broken percent-encoding
// gets fastify's own `{ error, code: 'FST_ERR_BAD_URL' }` as application/json instead of a problem.
t.test('malformed paths near /dlr and /sms are answered with a problem too', async (t) => {
  const gw = await startGateway(t, { env: FUZZ_ENV })
  const brokenEscape = fc.constantFrom('%', '%Z', '%ZZ', '%E0%A4', '%C0', '%ED%A0%80', '%%', '%0')
  const path = fc.tuple(
    fc.constantFrom('/dlr', '/sms', '', '/dlr/', '/healthz'),
    fc.oneof(brokenEscape, fc.string({ unit: garbageUnit, maxLength: 20 }).map(wireSafe)),
    fc.option(fc.string({ unit: garbageUnit, maxLength: 20 }).map(wireSafe), { nil: undefined })
  ).map(([prefix, middle, query]) => `${prefix}/${middle}${query === undefined ? '' : `?${query}`}`)
  await checkProperty(t, 'malformed paths', fc.asyncProperty(fc.constantFrom<'GET' | 'POST'>('GET', 'POST'), path, async (method, url) => {
    const answer = await inject(gw, { method, url })
    if (answer.status === 200) return
    const problem = readProblem(answer)
    if (problem.code === 'GW_VALIDATION_FAILED') assert.ok(Array.isArray(problem.errors) && problem.errors.length > 0, `${method} ${url}: a validation problem names its fields`)
  }), { seed, numRuns: 300 })
  t.equal(gw.simulator.stats.requests, 0, 'the provider saw nothing')
})
