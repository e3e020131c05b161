import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { Compile } from 'typebox/compile'
import type { ErrorCode } from '../../src/errors.js'
import { readOrder } from '../../src/sms/order.js'
import { unsayableInProviderTime } from '../../src/sms/send-date.js'
import { bodyLimitFor } from '../../src/server-options.js'
import { SendSmsBodySchema, type SendSmsBody, type SendSmsResult } from '../../src/schemas/sms.js'
import { authHeader, OTHER_API_KEY, startGateway, type GatewayUnderTest } from '../helper.js'
import {
  assertNamesField, assertPrototypesIntact, checkProperty, errorLogLines, fuzzSeed, inject, overSocket, readProblem, snapshotPrototypes,
  type Answer, type Call
} from './helpers.js'

/**
 * POST /sms under generated bodies: whatever arrives, the gateway answers a problem or a result,
 * never a 5xx, and the provider sees a request only for a body that is valid.
 */

const MAX_RECIPIENTS = 50
const FUZZ_ENV = { RATE_LIMIT_MAX: '1000000000', SMS_MAX_RECIPIENTS: String(MAX_RECIPIENTS), LOG_LEVEL: 'info' }
const JSON_TYPE = 'application/json'
const RUNS = { invalid: 5000, valid: 1500, anything: 3200, unauthorised: 300, socket: 300 }

const seed = fuzzSeed()
t.comment(`FUZZ_SEED=${seed}`)

/** The independent oracle: the public schema compiled by TypeBox, not by the gateway's Ajv. */
const matchesSchema = Compile(SendSmsBodySchema)

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

const POLISH_MOBILE_PREFIXES = ['50', '51', '53', '57', '60', '66', '69', '72', '73', '78', '79', '88']

/** Mobile numbers in the ways people write them; all valid for PL. */
const validPhone = fc.tuple(
  fc.constantFrom(...POLISH_MOBILE_PREFIXES),
  fc.integer({ min: 0, max: 9_999_999 }),
  fc.constantFrom('e164', 'national', 'spaced', 'double-zero', 'dashed', 'padded')
).map(([prefix, rest, style]) => {
  const national = prefix + String(rest).padStart(7, '0')
  switch (style) {
    case 'e164': return `+48${national}`
    case 'national': return national
    case 'spaced': return `${national.slice(0, 3)} ${national.slice(3, 6)} ${national.slice(6)}`
    case 'double-zero': return `0048${national}`
    case 'dashed': return `+48-${national.slice(0, 3)}-${national.slice(3, 6)}-${national.slice(6)}`
    default: return `  +48 ${national}  `
  }
})

/** Schema-valid (1–32 characters) but not a number: answered `unsent`, never sent. */
const unsendablePhone = fc.constantFrom('123', 'call me', '45616', '+1', '0000', 'ąę', '\ud800', '+48 000 000 000', '😀')

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code))
const textUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcdefXYZ 0123456789.,!?-'.split('')) },
  { weight: 3, arbitrary: fc.constantFrom(...'ąćęłńóśźżĄĆĘŁŃÓŚŹŻ€[]{}^~\\|'.split('')) },
  { weight: 2, arbitrary: fc.constantFrom('😀', '👍🏽', '👨‍👩‍👧', '\u200b', '\u0000', '\u001b', '\n', '\t', '\r\n', '\ufeff', '\u2028') },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }
)
/** Unicode's own property, not a list of ours: whitespace and default-ignorable characters show nothing. */
const hasVisible = (text: string) => /[^\s\p{Default_Ignorable_Code_Point}]/u.test(text)
const isWellFormed = (text: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const hasNoControl = (text: string) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/.test(text)
const validText = fc.string({ unit: textUnit, minLength: 1, maxLength: 120 }).filter((text) => hasVisible(text) && isWellFormed(text) && hasNoControl(text))
const validSender = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9 .-]{1,11}$/).filter((name) => /[A-Za-z]/.test(name) && !name.startsWith(' ') && !name.endsWith(' ')),
  fc.stringMatching(/^\d{4}$/),
  fc.stringMatching(/^\d{9}$/),
  // none: ECO+, as SerwerSMS reads an empty sender
  fc.constant('')
)
const alphanumeric = fc.stringMatching(/^[A-Za-z0-9]{3,50}$/)
const HOUR_MS = 3_600_000
/**
 * RFC 3339 times at least an hour ahead: swapping `Z` for an offset moves the instant by at most 2
 * hours back. Not in the hour Polish clocks repeat each autumn, which the gateway refuses by design
 * (from September on, most runs would draw one).
 */
const futureSendAt = fc.tuple(fc.integer({ min: 4, max: 24 * 60 }), fc.constantFrom('Z', '+01:00', '+02:00', '-05:00'))
  .map(([hours, zone]) => new Date(Date.now() + hours * HOUR_MS).toISOString().replace(/\.\d{3}Z$/, zone))
  .filter((sendAt) => unsayableInProviderTime(new Date(sendAt)) === undefined)

interface ValidCase {
  body: SendSmsBody
  /** at least one recipient is a valid number, so exactly one upstream request must be made */
  sends: boolean
  key?: string
}

const recipient = fc.oneof(
  { weight: 5, arbitrary: validPhone.map((phone) => ({ phone, valid: true })) },
  { weight: 1, arbitrary: unsendablePhone.map((phone) => ({ phone, valid: false })) }
)

/** Bodies the gateway must accept with 200. */
const validCase: fc.Arbitrary<ValidCase> = fc.record({
  recipients: fc.array(recipient, { minLength: 1, maxLength: 8 }),
  single: fc.boolean(),
  text: validText,
  sender: fc.option(validSender, { nil: undefined }),
  flash: fc.option(fc.boolean(), { nil: undefined }),
  test: fc.option(fc.boolean(), { nil: undefined }),
  vcard: fc.option(fc.boolean(), { nil: undefined }),
  utf: fc.option(fc.boolean(), { nil: undefined }),
  speed: fc.option(fc.boolean(), { nil: undefined }),
  sendAt: fc.option(futureSendAt, { nil: undefined }),
  uniqueIds: fc.option(fc.uniqueArray(alphanumeric, { minLength: 8, maxLength: 8 }), { nil: undefined }),
  keyed: fc.boolean()
}).map((c) => {
  const phones = c.single ? [c.recipients[0]!] : c.recipients
  const body: Record<string, unknown> = { to: c.single ? phones[0]!.phone : phones.map((p) => p.phone), text: c.text }
  if (c.sender !== undefined) body.sender = c.sender
  for (const flag of ['flash', 'test', 'vcard'] as const) if (c[flag] !== undefined) body[flag] = c[flag]
  // utf and speed need a sender (FULL SMS); without one, or with an empty one, only `false` is valid.
  for (const flag of ['utf', 'speed'] as const) {
    if (c[flag] !== undefined && ((c.sender !== undefined && c.sender !== '') || c[flag] === false)) body[flag] = c[flag]
  }
  if (c.sendAt !== undefined) body.sendAt = c.sendAt
  if (c.uniqueIds !== undefined) {
    const ids = c.uniqueIds.slice(0, phones.length)
    body.uniqueId = c.single ? ids[0] : ids
  }
  return { body: body as SendSmsBody, sends: phones.some((p) => p.valid), ...(c.keyed ? { key: 'valid' } : {}) }
})

// ---------------------------------------------------------------------------------------------
// Invalid bodies: a valid one with exactly one thing broken, and what must come back
// ---------------------------------------------------------------------------------------------

interface Expectation {
  statuses: number[]
  /** codes allowed; the first is the usual one */
  codes: ErrorCode[]
  /** for validation problems: the field that must be named */
  field?: string
}

interface InvalidCase { description: string, call: Call, expect: Expectation, key?: string }

const FIELDS = ['to', 'text', 'sender', 'flash', 'test', 'speed', 'vcard', 'utf', 'sendAt', 'uniqueId'] as const
type Field = typeof FIELDS[number]
const BOOLEAN_FIELDS: readonly Field[] = ['flash', 'test', 'speed', 'vcard', 'utf']

const POLLUTION_VALUES = [
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '[{"__proto__":{"isAdmin":true}}]',
  '{"prototype":{"polluted":"yes"},"__proto__":null}'
]

/** JSON text of a value of the wrong type for `field`. */
function wrongTypeFor (field: Field): fc.Arbitrary<string> {
  const anyJson = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))
  const common = fc.oneof(
    fc.constantFrom('null', '{}', '[[]]', '[null]', '{"a":1}', '1e308', '-0', '0.5', ...POLLUTION_VALUES),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 }).map((v) => JSON.stringify(v))
  )
  if (BOOLEAN_FIELDS.includes(field)) {
    return fc.oneof(common, fc.constantFrom('"true"', '"false"', '1', '0', '"yes"', '[]', '[true]'), anyJson.filter((s) => s !== 'true' && s !== 'false'))
  }
  if (field === 'to' || field === 'uniqueId') {
    return fc.oneof(common, fc.constantFrom('true', 'false', '[]', '[1]', '["+48500600700", 48500600700]', '[["+48500600700"]]', '[{"phone":"+48500600700"}]', '[true]'))
  }
  // text, sender, sendAt: anything but a string
  return fc.oneof(common, fc.constantFrom('true', 'false', '[]', '["x"]', '[1,2]'), anyJson.filter((s) => !s.startsWith('"')))
}

const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2003', '\u3000', '\ufeff'), minLength: 0, maxLength: 20 })
/** Nothing a phone would show: whitespace mixed with zero-width, joining, soft-hyphen and selector characters. */
const invisible = fc.string({ unit: fc.constantFrom(' ', '\n', '\u200b', '\u200c', '\u200d', '\u2060', '\u00ad', '\ufe0f', '\ufeff'), minLength: 1, maxLength: 20 })

/** JSON text of a string that breaks the field's own constraint (length, pattern, format). */
function badStringFor (field: Field): fc.Arbitrary<string> | undefined {
  const json = (arb: fc.Arbitrary<string>) => arb.map((s) => JSON.stringify(s))
  switch (field) {
    case 'text': return json(fc.oneof(
      whitespace,
      invisible,
      fc.string({ unit: textUnit, minLength: 5001, maxLength: 5200 }),
      fc.tuple(validText, loneSurrogate, validText).map(([before, half, after]) => `${before}${half}${after}`).filter((text) => !isWellFormed(text)),
      fc.tuple(validText, fc.constantFrom('\u0000', '\u001b', '\u0007', '\u007f', '\u0085', '\u009b'), validText).map(([before, control, after]) => `${before}${control}${after}`)
    ))
    // Ajv counts code points, not UTF-16 units, so the overlong ones are measured the same way.
    case 'to': return json(fc.oneof(fc.constant(''), fc.string({ unit: textUnit, minLength: 33, maxLength: 80 }).filter((s) => [...s].length > 32)))
    case 'sender': return json(fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9]{12,20}$/),
      fc.stringMatching(/^[A-Za-z]{1,5}[!_@#ąę€/][A-Za-z]{0,4}$/),
      fc.stringMatching(/^\d{12,15}$/),
      fc.stringMatching(/^[ .-]{1,11}$/),
      // a space at either end: no approved name has one
      fc.stringMatching(/^[A-Za-z]{1,10}$/).chain((name) => fc.constantFrom(` ${name}`, `${name} `)),
      // digits alone are a number, and the provider takes numbers of 4 or 9 digits only
      fc.stringMatching(/^(?:\d{1,3}|\d{5,8}|\d{10,11})$/)
    ))
    case 'uniqueId': return json(fc.oneof(
      fc.constantFrom('', 'ab', 'a-b', 'a b', 'id_1', 'ąęś'),
      fc.stringMatching(/^[A-Za-z0-9]{51,60}$/)
    ))
    case 'sendAt': return json(fc.constantFrom('', 'tomorrow', 'now', '2026-13-01T00:00:00Z', '2026-12-24', '24.12.2026 18:00', '2026-12-24T25:00:00Z', '1735070400', 'T', '\ud800'))
    default: return undefined
  }
}

const toRaw = (body: object) => JSON.stringify(body)
/** Adds `"name": <raw json>` to a serialised object, so that keys like __proto__ really arrive as keys. */
const withRawField = (json: string, name: string, rawValue: string) => `${json.slice(0, -1)},${JSON.stringify(name)}:${rawValue}}`
const withoutField = (body: SendSmsBody, field: Field) => {
  const copy: Record<string, unknown> = { ...body }
  delete copy[field]
  return copy
}

const jsonCall = (payload: string | Buffer, headers: Record<string, string> = {}): Call => ({
  method: 'POST', url: '/sms', headers: { ...authHeader(), 'content-type': JSON_TYPE, ...headers }, payload
})

const validation = (field: string): Expectation => ({ statuses: [400], codes: ['GW_VALIDATION_FAILED'], field })
const VALID_BASE = { to: '+48500600700', text: 'Hello' }

const withBase = <T>(arb: fc.Arbitrary<T>) => fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constant(VALID_BASE as SendSmsBody) }, { weight: 2, arbitrary: validCase.map((c) => c.body) }), arb)

const wrongType = fc.constantFrom(...FIELDS).chain((field) => withBase(wrongTypeFor(field)).map(([body, raw]): InvalidCase => ({
  description: `wrong type for ${field}`,
  call: jsonCall(withRawField(toRaw(withoutField(body, field)), field, raw)),
  // A pollution payload may be refused by the JSON parser itself, before validation names a field.
  expect: raw.includes('__proto__') || raw.includes('"constructor"')
    ? { statuses: [400], codes: ['GW_VALIDATION_FAILED', 'GW_BODY_MALFORMED'], field: `/${field}` }
    : validation(`/${field}`)
})))

const badString = fc.constantFrom(...FIELDS.filter((f) => badStringFor(f) !== undefined)).chain((field) =>
  withBase(badStringFor(field)!).map(([body, raw]): InvalidCase => ({
    description: `constraint broken on ${field}`,
    call: jsonCall(withRawField(toRaw(withoutField(body, field)), field, raw)),
    expect: validation(`/${field}`)
  })))

const missing = fc.constantFrom('to', 'text' as const).chain((field) => withBase(fc.constant(field)).map(([body]): InvalidCase => ({
  description: `${field} missing`,
  call: jsonCall(toRaw(withoutField(body, field))),
  expect: validation(`/${field}`)
})))

const KNOWN = new Set<string>(FIELDS)
const unknownName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isAdmin', 'phone', 'TO', 'Text', 'dlr_url', 'password', 'unique_id', ''),
  fc.string({ unit: textUnit, maxLength: 20 })
).filter((name) => !KNOWN.has(name))

/** A field name as a JSON-pointer step (RFC 6901). */
const pointerStep = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1')

const unknownField = fc.tuple(withBase(unknownName), fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.constantFrom(...POLLUTION_VALUES)))
  .map(([[body, name], raw]): InvalidCase => ({
    description: `unknown field ${JSON.stringify(name)}`,
    call: jsonCall(withRawField(toRaw(body), name, raw)),
    expect: name === '__proto__' || raw.includes('__proto__') || raw.includes('"constructor"') || name === 'constructor'
      ? { statuses: [400], codes: ['GW_VALIDATION_FAILED', 'GW_BODY_MALFORMED'], field: `/${pointerStep(name)}` }
      : validation(`/${pointerStep(name)}`)
  }))

/** What readOrder checks beyond the schema. */
const ruleBroken = fc.oneof(
  fc.tuple(fc.array(validPhone, { minLength: 2, maxLength: 6 }), fc.uniqueArray(alphanumeric, { minLength: 1, maxLength: 8 }))
    .filter(([to, ids]) => ids.length !== to.length)
    .map(([to, ids]): InvalidCase => ({ description: 'uniqueId count differs', call: jsonCall(toRaw({ to, text: 'x', uniqueId: ids })), expect: validation('/uniqueId') })),
  fc.tuple(fc.array(validPhone, { minLength: 2, maxLength: 6 }), alphanumeric)
    .map(([to, id]): InvalidCase => ({ description: 'uniqueId repeated', call: jsonCall(toRaw({ to, text: 'x', uniqueId: to.map(() => id) })), expect: validation('/uniqueId') })),
  fc.tuple(fc.constantFrom('utf', 'speed'), validCase, fc.boolean()).map(([flag, c, emptySender]): InvalidCase => {
    const body: Record<string, unknown> = { ...c.body, [flag]: true }
    if (emptySender) body.sender = ''
    else delete body.sender
    return { description: `${flag} without a sender${emptySender ? ' (an empty one)' : ''}`, call: jsonCall(toRaw(body)), expect: validation(`/${flag}`) }
  }),
  fc.tuple(fc.integer({ min: 10, max: 100_000 }), validCase).map(([minutes, c]): InvalidCase => ({
    description: 'sendAt in the past',
    call: jsonCall(toRaw({ ...c.body, sendAt: new Date(Date.now() - minutes * 60_000).toISOString() })),
    expect: validation('/sendAt')
  }))
)

const tooManyRecipients = fc.oneof(
  fc.array(validPhone, { minLength: MAX_RECIPIENTS + 1, maxLength: MAX_RECIPIENTS * 4 }).map((to): InvalidCase => ({
    description: `${to.length} recipients`,
    call: jsonCall(toRaw({ to, text: 'x' })),
    expect: { statuses: [413], codes: ['GW_RECIPIENTS_TOO_MANY'] }
  })),
  fc.integer({ min: 5_000, max: 20_000 }).map((count): InvalidCase => ({
    description: `${count} recipients, over the body limit`,
    call: jsonCall(toRaw({ to: Array.from({ length: count }, (_, i) => `+4850${String(i).padStart(7, '0')}`), text: 'x' })),
    expect: { statuses: [413], codes: ['GW_BODY_TOO_LARGE'] }
  }))
)

const huge = fc.tuple(fc.constantFrom('text', 'to', 'sender', 'extra'), fc.integer({ min: 80_000, max: 150_000 }), fc.constantFrom('x', 'ą', '😀', '\ud800'))
  .map(([field, length, unit]): InvalidCase => ({
    description: `${length}-character ${field}`,
    call: jsonCall(toRaw({ ...VALID_BASE, [field]: unit.repeat(length) })),
    expect: { statuses: [413], codes: ['GW_BODY_TOO_LARGE'] }
  }))

const deep = fc.tuple(fc.constantFrom(...FIELDS, 'extra'), fc.integer({ min: 2, max: 15_000 }), fc.constantFrom('array', 'object', 'constructor'))
  .map(([field, depth, kind]): InvalidCase => {
    const [open, close] = kind === 'array' ? ['[', ']'] : kind === 'object' ? ['{"a":', '}'] : ['{"constructor":', '}']
    const raw = `${open.repeat(depth)}"x"${close.repeat(depth)}`
    return {
      description: `${kind} nested ${depth} deep in ${field}`,
      call: jsonCall(withRawField(toRaw(withoutField(VALID_BASE, field as Field)), field, raw)),
      expect: { statuses: [400], codes: ['GW_VALIDATION_FAILED', 'GW_BODY_MALFORMED'], field: `/${field}` }
    }
  })
// Deep or long payloads may also exceed the body limit: checkInvalid then expects 413 whatever the case says.

const hugeArray = fc.tuple(fc.constantFrom('to', 'uniqueId', 'text', 'flash'), fc.integer({ min: 1000, max: 12_000 }), fc.constantFrom('1', 'null', '""', '[]', '{}', 'true'))
  .map(([field, length, item]): InvalidCase => ({
    description: `${length}-item array of ${item} in ${field}`,
    call: jsonCall(withRawField(toRaw(withoutField(VALID_BASE, field as Field)), field, `[${Array.from({ length }, () => item).join(',')}]`)),
    expect: field === 'to' && item === '""'
      ? { statuses: [400], codes: ['GW_VALIDATION_FAILED'], field: '/to' }
      : { statuses: [400], codes: ['GW_VALIDATION_FAILED'], field: `/${field}` }
  }))

const notAnObject = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)),
  fc.constantFrom('[{"to":"+48500600700","text":"x"}]', '"{\\"to\\":\\"+48500600700\\",\\"text\\":\\"x\\"}"', '0', 'null', 'true')
).map((raw): InvalidCase => ({ description: 'body is not an object', call: jsonCall(raw), expect: validation('') }))

const malformed = fc.oneof(
  validCase.chain((c) => {
    const raw = toRaw(c.body)
    return fc.integer({ min: 0, max: raw.length - 1 }).map((cut) => raw.slice(0, cut))
  }),
  fc.constantFrom('{', '{"to":', "{'to':'+48500600700','text':'x'}", '{"to":"+48500600700","text":"x",}', '{"to":"+48500600700" "text":"x"}',
    'NaN', 'undefined', '{"to":"+48500600700","text":"x"}}', '\u0000', '{"to":"\\u12"}', '{"text":"x","to":"+48500600700"}garbage'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 50 }).filter((s) => { try { JSON.parse(s); return false } catch { return true } })
).map((raw): InvalidCase => ({
  description: 'malformed JSON',
  call: jsonCall(raw),
  expect: { statuses: [400], codes: ['GW_BODY_MALFORMED'] }
}))

const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes): InvalidCase => ({
  description: 'bytes that are not JSON',
  call: jsonCall(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(bytes)])),
  expect: { statuses: [400], codes: ['GW_BODY_MALFORMED'] }
}))

const wrongMediaType = fc.tuple(
  validCase,
  fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/json', 'application/octet-stream', 'application/jsonx', '*/*', 'image/png')
).map(([c, contentType]): InvalidCase => ({
  description: `body sent as ${contentType}`,
  call: jsonCall(toRaw(c.body), { 'content-type': contentType }),
  expect: { statuses: [415], codes: ['GW_MEDIA_TYPE_UNSUPPORTED'] }
}))

/** Some of the invalid cases carry an Idempotency-Key (made unique per run): it must not change the outcome. */
const idempotencyKey = fc.option(fc.stringMatching(/^[\x20-\x7e]{1,40}$/), { nil: undefined, freq: 4 })

const invalidCase = fc.tuple(fc.oneof(
  { weight: 20, arbitrary: wrongType },
  { weight: 15, arbitrary: badString },
  { weight: 5, arbitrary: missing },
  { weight: 12, arbitrary: unknownField },
  { weight: 10, arbitrary: ruleBroken },
  { weight: 3, arbitrary: tooManyRecipients },
  { weight: 2, arbitrary: huge },
  { weight: 3, arbitrary: deep },
  { weight: 3, arbitrary: hugeArray },
  { weight: 5, arbitrary: notAnObject },
  { weight: 8, arbitrary: malformed },
  { weight: 2, arbitrary: invalidUtf8 },
  { weight: 5, arbitrary: wrongMediaType }
), idempotencyKey).map(([c, key]): InvalidCase => key === undefined ? c : { ...c, key })

let keyCounter = 0
/** The call with its key made unique, so that no run replays or collides with another's answer. */
function callOf (c: { call: Call, key?: string }): Call {
  if (c.key === undefined) return c.call
  return { ...c.call, headers: { ...c.call.headers, 'idempotency-key': `${c.key.slice(0, 200)}#${keyCounter++}` } }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

interface Upstream { sends: number, received: number }
const upstreamOf = (gw: GatewayUnderTest): Upstream => ({ sends: gw.simulator.stats.sendRequests, received: gw.simulator.stats.requests })

function assertNothingSent (gw: GatewayUnderTest, before: Upstream, what: string): void {
  const after = upstreamOf(gw)
  assert.equal(after.sends, before.sends, `${what}: nothing may reach the provider`)
  assert.equal(after.received, before.received, `${what}: no request at all may reach the provider`)
}

function checkInvalid (gw: GatewayUnderTest, c: InvalidCase, answer: Answer, before: Upstream): void {
  assertNothingSent(gw, before, c.description)
  const problem = readProblem(answer)
  const size = c.call.payload === undefined ? 0 : Buffer.byteLength(c.call.payload)
  if (size > bodyLimitFor(gw.config) && c.expect.statuses[0] !== 415) {
    assert.equal(problem.code, 'GW_BODY_TOO_LARGE', `${c.description}: ${size} bytes exceed the body limit`)
    return
  }
  assert.ok(c.expect.statuses.includes(answer.status), `${c.description}: status ${answer.status} not in ${c.expect.statuses.join(',')} (${problem.code}: ${problem.detail})`)
  assert.ok(c.expect.codes.includes(problem.code), `${c.description}: code ${problem.code} not in ${c.expect.codes.join(',')} (${problem.detail})`)
  if (problem.code === 'GW_VALIDATION_FAILED' && c.expect.field !== undefined) {
    if (c.expect.field === '') assert.ok(problem.errors !== undefined && problem.errors.length > 0, 'a validation problem lists its fields')
    else assertNamesField(problem, c.expect.field)
  }
}

function checkAccepted (gw: GatewayUnderTest, c: ValidCase, answer: Answer, before: Upstream): void {
  assert.equal(answer.status, 200, `a valid body is accepted: ${JSON.stringify(c.body).slice(0, 300)} → ${answer.status} ${answer.body.slice(0, 300)}`)
  assert.match(answer.contentType, /^application\/json/)
  const result = JSON.parse(answer.body) as SendSmsResult
  const after = upstreamOf(gw)
  const replayed = answer.headers['idempotent-replayed'] === 'true'
  const expectedSends = replayed || !c.sends ? 0 : 1
  assert.equal(after.sends - before.sends, expectedSends, `upstream requests for ${JSON.stringify(c.body).slice(0, 300)} (replayed: ${replayed})`)
  assert.equal(result.queued + result.unsent + result.failed + result.unknown, result.messages.length)
  if (!replayed) {
    assert.equal(result.queued > 0, c.sends, 'a valid number is queued')
    assert.equal(result.failed + result.unknown, 0)
  }
}

/**
 * Independent of the gateway for the schema only (TypeBox's compiler, not the gateway's Ajv). The
 * rules beyond the schema are readOrder's own, so this property checks that the route applies them
 * and sends exactly when they pass, not that they are right: the generated bad bodies above carry
 * their own expectations for those rules (lone surrogates, control characters, nothing visible).
 */
function expectedByOracle (gw: GatewayUnderTest, body: unknown): boolean {
  if (!matchesSchema.Check(body)) return false
  try {
    readOrder(body as SendSmsBody, { maxRecipients: gw.config.sending.maxRecipients, defaultSender: gw.config.upstream.defaultSender }, Date.now())
    return true
  } catch {
    return false
  }
}

const KNOWN_VALUE: Record<Field, fc.Arbitrary<unknown>> = {
  to: fc.oneof(validPhone, fc.array(fc.oneof(validPhone, unsendablePhone), { minLength: 0, maxLength: 4 })),
  text: fc.oneof(validText, whitespace),
  sender: validSender,
  flash: fc.boolean(),
  test: fc.boolean(),
  speed: fc.boolean(),
  vcard: fc.boolean(),
  utf: fc.boolean(),
  sendAt: fc.oneof(futureSendAt, fc.constantFrom('2020-01-01T00:00:00Z', 'soon')),
  uniqueId: fc.oneof(alphanumeric, fc.uniqueArray(alphanumeric, { minLength: 1, maxLength: 4 }), fc.array(alphanumeric, { minLength: 2, maxLength: 2 }))
}

/** Bodies of any shape, biased towards the real field names and types so that a fair share is valid. */
const anyBody: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown) },
  {
    weight: 6,
    arbitrary: fc.record(Object.fromEntries(FIELDS.map((field) => [field, fc.oneof(
      { weight: 8, arbitrary: KNOWN_VALUE[field] },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }
    )])) as Record<Field, fc.Arbitrary<unknown>>, { requiredKeys: [] })
      // Most bodies keep the two required fields, so that the optional ones decide.
      .chain((body) => fc.boolean().map((keep) => keep ? { to: '+48500600700', text: 'x', ...body } : body))
      .chain((body) => fc.oneof(
        { weight: 6, arbitrary: fc.constant(body) },
        { weight: 1, arbitrary: fc.tuple(unknownName.filter((n) => n !== '__proto__'), fc.jsonValue({ maxDepth: 2 })).map(([name, value]) => ({ ...body, [name]: value })) }
      ))
  }
)

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

t.test('generated bodies for POST /sms: never a 5xx, always a problem naming the field, no send unless valid', async (t) => {
  const gw = await startGateway(t, { env: FUZZ_ENV })
  const prototypes = snapshotPrototypes()
  let total = 0

  total += await checkProperty(t, 'invalid bodies are refused and nothing is sent', fc.asyncProperty(invalidCase, async (c) => {
    const before = upstreamOf(gw)
    checkInvalid(gw, c, await inject(gw, callOf(c)), before)
  }), { seed, numRuns: RUNS.invalid })

  total += await checkProperty(t, 'valid bodies are accepted and sent once', fc.asyncProperty(validCase, async (c) => {
    const before = upstreamOf(gw)
    // The first use of a key sends like an unkeyed request.
    checkAccepted(gw, c, await inject(gw, callOf({ call: jsonCall(toRaw(c.body)), key: c.key })), before)
  }), { seed, numRuns: RUNS.valid })

  let validByOracle = 0
  const anythingRuns = await checkProperty(t, 'bodies of any shape: the oracle decides, the gateway agrees', fc.asyncProperty(anyBody, async (body) => {
    const before = upstreamOf(gw)
    const answer = await inject(gw, jsonCall(JSON.stringify(body)))
    if (expectedByOracle(gw, body)) {
      validByOracle++
      assert.equal(answer.status, 200, `the oracle finds ${JSON.stringify(body).slice(0, 300)} valid, the gateway answered ${answer.status} ${answer.body.slice(0, 300)}`)
      assert.ok(upstreamOf(gw).sends - before.sends <= 1, 'at most one upstream request for a handful of recipients')
    } else {
      assertNothingSent(gw, before, `invalid by the oracle: ${JSON.stringify(body).slice(0, 200)}`)
      const problem = readProblem(answer)
      assert.ok([400, 413].includes(answer.status), `invalid body answered ${answer.status} ${problem.code}`)
      if (problem.code === 'GW_VALIDATION_FAILED') assert.ok(problem.errors !== undefined, `a validation problem lists its fields: ${problem.detail}`)
    }
  }), { seed, numRuns: RUNS.anything })
  total += anythingRuns
  t.ok(validByOracle > anythingRuns / 100, `some free-form bodies were valid (${validByOracle} of ${anythingRuns}), so both sides of the oracle ran`)

  total += await checkProperty(t, 'without a valid API key nothing is sent, whatever the body', fc.asyncProperty(
    fc.tuple(fc.oneof(validCase.map((c) => toRaw(c.body)), invalidCase.map((c) => String(c.call.payload))),
      fc.constantFrom(undefined, '', 'Bearer', 'Bearer ', 'Bearer wrong-key-0123456789', 'Basic dXNlcjpwYXNz', `bearer  ${OTHER_API_KEY}x`, `Token ${OTHER_API_KEY}`, 'Bearer a b')),
    async ([payload, authorization]) => {
      const before = upstreamOf(gw)
      const answer = await inject(gw, { method: 'POST', url: '/sms', headers: { 'content-type': JSON_TYPE, ...(authorization === undefined ? {} : { authorization }) }, payload })
      assertNothingSent(gw, before, 'unauthorised')
      const problem = readProblem(answer)
      assert.equal(answer.status, 401)
      assert.ok(['GW_AUTH_MISSING', 'GW_AUTH_INVALID'].includes(problem.code))
    }), { seed, numRuns: RUNS.unauthorised })

  // How many ran depends on the machine's speed (checkProperty notes a property the time limit cut short).
  t.comment(`${total} generated bodies through app.inject`)
  assertPrototypesIntact(prototypes)
  t.same(errorLogLines(gw), [], 'no request made the gateway log an error')
})

t.test('the same kinds of bodies over a real socket', async (t) => {
  const gw = await startGateway(t, { env: FUZZ_ENV })
  const prototypes = snapshotPrototypes()
  const mixed = fc.oneof(
    { weight: 2, arbitrary: invalidCase.map((c) => ({ invalid: c })) },
    { weight: 1, arbitrary: validCase.map((c) => ({ valid: c })) }
  )
  await checkProperty(t, 'over a socket', fc.asyncProperty(mixed, async (c) => {
    const before = upstreamOf(gw)
    if ('invalid' in c) checkInvalid(gw, c.invalid, await overSocket(gw, callOf(c.invalid)), before)
    else checkAccepted(gw, c.valid, await overSocket(gw, callOf({ call: jsonCall(toRaw(c.valid.body)), key: c.valid.key })), before)
  }), { seed, numRuns: RUNS.socket })
  assertPrototypesIntact(prototypes)
  t.same(errorLogLines(gw), [], 'no request made the gateway log an error')
  const health = await fetch(`${gw.url}/healthz`)
  t.equal(health.status, 200, 'the gateway still answers')
})

// A body refused by the schema or by readOrder (past sendAt, uniqueId mismatch, utf without a
// sender, too many recipients) sent nothing: the corrected retry with the same key must go out.
t.test('a body refused before anything was sent does not consume its Idempotency-Key', async (t) => {
  const gw = await startGateway(t, { env: FUZZ_ENV })
  const refusedThenFixed = fc.tuple(fc.oneof(wrongType, badString, ruleBroken, tooManyRecipients), validCase.filter((c) => c.sends))
  await checkProperty(t, 'refused, then retried with a valid body and the same key', fc.asyncProperty(refusedThenFixed, async ([refused, fixed]) => {
    const key = `retry-after-refusal-${keyCounter++}`
    const first = await inject(gw, { ...refused.call, headers: { ...refused.call.headers, 'idempotency-key': key } })
    assert.ok(first.status >= 400 && first.status < 500, `${refused.description} is refused (${first.status})`)
    const before = upstreamOf(gw)
    const retry = await inject(gw, jsonCall(toRaw(fixed.body), { 'idempotency-key': key }))
    assert.equal(retry.status, 200, `after "${refused.description}" was refused with ${first.status}, the corrected request with the same key answered ${retry.status} ${retry.body.slice(0, 200)}`)
    assert.equal(upstreamOf(gw).sends - before.sends, 1, 'and was sent')
  }), { seed, numRuns: 200 })
})
