import fc from 'fast-check'
import t from 'tap'
import { Compile } from 'typebox/compile'
import { PROVIDER_MAX_RECIPIENTS } from '../../src/config.js'
import { containersOf, hasTooManyKeys, keysOfBiggestObject, MOST_CONTAINERS, MOST_KEYS_OF_AN_OBJECT, tooManyContainersAt } from '../../src/json-body.js'
import { REPEATED_KEY_REASON, repeatedKey } from '../../src/json-repeated-keys.js'
import { pointerToken } from '../../src/errors.js'
import { bodyLimitFor } from '../../src/server-options.js'
import { MAX_TEXT_LENGTH, SendSmsBodySchema } from '../../src/schemas/sms.js'
import { authHeader, startGateway } from '../helper.js'

/** A JSON value with its objects as lists of members, so that a key may repeat. */
type Tree = null | boolean | number | string | Tree[] | { members: Array<[string, Tree]> }

const awkwardString = fc.oneof(
  fc.string({ unit: fc.constantFrom('"', '\\', ':', '":', '\\"', ' ', 'a', 'ą', '😀', '\n', '\u0000', '/', '{', '}', ',', '[', '\ud800') }),
  fc.string({ unit: 'binary' })
)
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), awkwardString),
    fc.array(tie('tree'), { maxLength: 5 }),
    fc.array(fc.tuple(fc.oneof(awkwardString, fc.constantFrom('to', 'text')), tie('tree')), { maxLength: 5 }).map((members) => ({ members }))
  )
}))
/** JSON whitespace, put between every two tokens: a key's colon may come after some. */
const gaps = fc.array(fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 }), { minLength: 1, maxLength: 7 })

function serialise (value: Tree, gap: () => string): string {
  if (Array.isArray(value)) return `[${gap()}${value.map((item) => serialise(item, gap)).join(`${gap()},${gap()}`)}${gap()}]`
  if (value !== null && typeof value === 'object') {
    return `{${gap()}${value.members.map(([key, item]) => `${JSON.stringify(key)}${gap()}:${gap()}${serialise(item, gap)}`).join(`${gap()},${gap()}`)}${gap()}}`
  }
  return JSON.stringify(value)
}

/** The members of the biggest object in a value, repeated keys included. */
function biggest (value: Tree): number {
  if (Array.isArray(value)) return Math.max(0, ...value.map(biggest))
  if (value !== null && typeof value === 'object') return Math.max(value.members.length, ...value.members.map(([, item]) => biggest(item)))
  return 0
}

t.test('the keys of a JSON text\'s biggest object are counted exactly: a colon or quote inside a string is not a key', async (t) => {
  fc.assert(fc.property(tree, gaps, fc.nat({ max: 20 }), (value, spaces, most) => {
    let next = 0
    const text = serialise(value, () => spaces[next++ % spaces.length] as string)
    JSON.parse(text)
    const body = Buffer.from(text)
    const count = biggest(value)
    return keysOfBiggestObject(body, Infinity) === count && keysOfBiggestObject(body, most) === Math.min(count, most + 1)
  }), { numRuns: 3000 })
})

/** The objects and lists in a value, itself included. */
function containers (value: Tree): number {
  if (Array.isArray(value)) return 1 + value.reduce((sum: number, item) => sum + containers(item), 0)
  if (value !== null && typeof value === 'object') return 1 + value.members.reduce((sum, [, item]) => sum + containers(item), 0)
  return 0
}

t.test('the objects and lists of a JSON text are counted exactly: a bracket inside a string is none', async (t) => {
  fc.assert(fc.property(tree, gaps, fc.nat({ max: 20 }), (value, spaces, most) => {
    let next = 0
    const body = Buffer.from(serialise(value, () => spaces[next++ % spaces.length] as string))
    const count = containers(value)
    return containersOf(body, Infinity).count === count && containersOf(body, most).count === Math.min(count, most + 1)
  }), { numRuns: 3000 })
})

t.test('a body of more than MOST_CONTAINERS objects and lists is told, and only such a body, with the member that holds them', async (t) => {
  const list = (items: number, item = '{}') => `[${Array.from({ length: items }, () => item).join(',')}]`
  t.equal(tooManyContainersAt(Buffer.from(list(MOST_CONTAINERS - 1))), undefined, 'as many as the bound, the list included')
  t.equal(tooManyContainersAt(Buffer.from(list(MOST_CONTAINERS))), '', 'one more: the body itself, a list')
  t.equal(tooManyContainersAt(Buffer.from(`{"text":"x","to":${list(MOST_CONTAINERS, '[]')}}`)), '/to', 'lists too, in a member')
  t.equal(tooManyContainersAt(Buffer.from(`{"a":{},"text":"[{","t~/o":${'['.repeat(MOST_CONTAINERS)}${']'.repeat(MOST_CONTAINERS)},"b":1}`)), '/t~0~1o', 'nested, after a string value with brackets: the member\'s key, as a pointer')
  t.equal(tooManyContainersAt(Buffer.from(`{"a":{},"to":${list(MOST_CONTAINERS / 2)},"te\\u0078t":${list(MOST_CONTAINERS / 2)}}`)), '/text', 'the member the bound is passed in, its key decoded')
  t.equal(tooManyContainersAt(Buffer.from(JSON.stringify({ to: '+48500600700', text: '{['.repeat(MAX_TEXT_LENGTH / 2) }))), undefined, 'brackets in strings are none')
  // Looked at before the body is parsed: a key that is no JSON string names nothing, and throws nothing.
  for (const key of ['"a\\x"', '"a\nb"', '"\\u12"']) {
    t.equal(tooManyContainersAt(Buffer.from(`{"ok":1,${key}:${'['.repeat(MOST_CONTAINERS)}${']'.repeat(MOST_CONTAINERS)}}`)), '', `a key that is no JSON: ${key}`)
  }
  t.equal(tooManyContainersAt(Buffer.from(JSON.stringify({ to: Array.from({ length: 2000 }, (_, i) => `[${i}]`), text: '"{\\"' }))), undefined, 'nor in a list of strings, quotes and escapes among them')
})

/** Whether a schema takes an object anywhere: a value that holds keys of its own. */
function takesObject (schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return schema !== false
  const { type, anyOf, items } = schema as { type?: string, anyOf?: unknown[], items?: unknown }
  if (anyOf !== undefined) return anyOf.some(takesObject)
  if (type === 'array') return takesObject(items)
  return type === undefined || type === 'object'
}

t.test('no valid send body comes near MOST_KEYS_OF_AN_OBJECT', async (t) => {
  const fields = Object.keys(SendSmsBodySchema.properties)
  t.equal(fields.length, 10)
  t.equal((SendSmsBodySchema as { additionalProperties?: unknown }).additionalProperties, false, 'no other field')
  t.same(fields.filter((field) => takesObject(SendSmsBodySchema.properties[field as keyof typeof SendSmsBodySchema.properties])), [], 'and no field holds keys of its own: 10 at most, but by repeating one')
  // Every field, with the most of what a crude count of `":` or of colons would take for keys:
  // a text of 5000 characters and 100,000 phones of 32, all `":`.
  const most = {
    to: Array.from({ length: PROVIDER_MAX_RECIPIENTS }, () => '":'.repeat(16)),
    text: '":'.repeat(MAX_TEXT_LENGTH / 2),
    sender: 'INFO',
    flash: false,
    test: true,
    speed: false,
    vcard: false,
    utf: true,
    sendAt: '2026-12-24T18:00:00+01:00',
    uniqueId: Array.from({ length: PROVIDER_MAX_RECIPIENTS }, (_, i) => `id${i}`)
  }
  t.ok(Compile(SendSmsBodySchema).Check(most), 'valid')
  const body = Buffer.from(JSON.stringify(most, null, 1))
  t.equal(keysOfBiggestObject(body, Infinity), 10)
  t.equal(hasTooManyKeys(body), false)
  t.equal(hasTooManyKeys(Buffer.from(JSON.stringify(most))), false, 'nor as sent compact')
  t.equal(tooManyContainersAt(body), undefined, 'nor too many objects and lists')
})

t.test('an object of more than MOST_KEYS_OF_AN_OBJECT keys is told, wherever it is and however spaced', async (t) => {
  const object = (keys: number, member = (i: number) => `"k${i}":0`) => `{${Array.from({ length: keys }, (_, i) => member(i)).join(',')}}`
  t.equal(hasTooManyKeys(Buffer.from(object(MOST_KEYS_OF_AN_OBJECT))), false)
  t.equal(hasTooManyKeys(Buffer.from(object(MOST_KEYS_OF_AN_OBJECT + 1))), true)
  t.equal(hasTooManyKeys(Buffer.from(object(MOST_KEYS_OF_AN_OBJECT + 1, () => '"k" \n\t:\r0'))), true, 'a key repeated, its colon after whitespace')
  t.equal(hasTooManyKeys(Buffer.from(`{"to":"x","a":${object(MOST_KEYS_OF_AN_OBJECT + 1)}}`)), true, 'nested')
  t.equal(hasTooManyKeys(Buffer.from(`{"a":[${object(MOST_KEYS_OF_AN_OBJECT)}],${object(MOST_KEYS_OF_AN_OBJECT).slice(1)}`)), true, 'after a nested object of its own')
  t.equal(hasTooManyKeys(Buffer.from(`[${Array.from({ length: MOST_KEYS_OF_AN_OBJECT + 1 }, () => '{"a":[]}').join(',')}]`)), false, 'many objects of one key each')
  t.equal(hasTooManyKeys(Buffer.from(`${'{"a":'.repeat(20_000)}0${'}'.repeat(20_000)}`)), false, 'nor nested deep')
  t.equal(hasTooManyKeys(Buffer.from(JSON.stringify({ to: ':'.repeat(30), text: ':'.repeat(MAX_TEXT_LENGTH) }))), false, 'colons in strings are no keys')
  // A valid text of n bytes has n / 4 keys at most; shorter texts are not read. This one is no JSON.
  const short = Buffer.from('"":'.repeat(MOST_KEYS_OF_AN_OBJECT + 1))
  t.equal(keysOfBiggestObject(short, MOST_KEYS_OF_AN_OBJECT), MOST_KEYS_OF_AN_OBJECT + 1)
  t.equal(hasTooManyKeys(short), false)
  t.equal(keysOfBiggestObject(Buffer.from(']}{"a":0,"b":0}'), MOST_KEYS_OF_AN_OBJECT), 2, 'a text closing more than it opens is counted on')
})

t.test('the gateway refuses a body of many keys before parsing it, naming why', async (t) => {
  const gw = await startGateway(t)
  const send = async (body: string) => {
    const response = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body })
    return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as Record<string, unknown> }
  }
  // As many short unknown keys as the default body limit holds (~120,000).
  const keys: string[] = []
  for (let i = 0, size = 2; size < bodyLimitFor(gw.config) - 20; i++) {
    keys.push(`"${i.toString(36)}":0`)
    size += keys.at(-1)!.length + 1
  }
  const refusal = {
    status: 400,
    type: /^application\/problem\+json/,
    body: {
      code: 'GW_VALIDATION_FAILED',
      detail: `body: has an object of more than ${MOST_KEYS_OF_AN_OBJECT} keys: no request the gateway takes has near that many`,
      errors: [{ field: '', reason: `has an object of more than ${MOST_KEYS_OF_AN_OBJECT} keys: no request the gateway takes has near that many` }]
    }
  }
  t.match(await send(`{${keys.join(',')}}`), refusal, `${keys.length} keys`)
  t.match(await send(`{"to":"+48500600700","text":"x","more":{${keys.slice(0, MOST_KEYS_OF_AN_OBJECT + 1).join(',')}}}`.replaceAll('":', '" :')), refusal, 'nested, spaced')
  const answered = await send(`{${keys.slice(0, MOST_KEYS_OF_AN_OBJECT).join(',')}}`)
  t.match(answered, { status: 400, body: { code: 'GW_VALIDATION_FAILED', errors: [{ field: '/to', reason: 'is required' }, { field: '/text', reason: 'is required' }, { field: '/0', reason: 'is not a known field' }] } }, 'up to the limit, validated as before')
  const deep = await send(`{"text":"x","to":${'{"a":'.repeat(MOST_CONTAINERS - 1)}0${'}'.repeat(MOST_CONTAINERS - 1)}}`)
  t.match(deep, { status: 400, body: { code: 'GW_VALIDATION_FAILED', errors: [{ field: '/to' }] } }, 'objects nested deep, a key each, within MOST_CONTAINERS: the field named as before')
  const crowded = (field: string) => ({
    status: 400,
    type: /^application\/problem\+json/,
    body: { code: 'GW_VALIDATION_FAILED', errors: [{ field, reason: `holds more than ${MOST_CONTAINERS} objects and lists: no request the gateway takes has near that many` }] }
  })
  t.match(await send(`{"text":"x","to":${'{"a":'.repeat(5000)}0${'}'.repeat(5000)}}`), crowded('/to'), 'deeper: refused before parsing, the field named')
  // As many empty objects as the default body limit holds (~350,000): 70–100 ms of JSON.parse each.
  const empties = `[${Array.from({ length: Math.floor((bodyLimitFor(gw.config) - 2) / 3) }, () => '{}').join(',')}]`
  t.match(await send(empties), crowded(''), 'a body of empty objects')
  t.match(await send(`{"ok":1,"a\\x":${'['.repeat(MOST_CONTAINERS)}${']'.repeat(MOST_CONTAINERS)}}`), crowded(''), 'a key that is no JSON: 400, not 500')
  t.match(await send(`{"text":"x","to":${empties}}`.slice(0, bodyLimitFor(gw.config) - 2) + ']}'), crowded('/to'), 'in a send\'s list')
  t.equal(gw.simulator.received.length, 0)
  // More colons than MOST_KEYS_OF_AN_OBJECT, in strings only: counted byte by byte.
  const phones = Array.from({ length: 300 }, (_, i) => `${'":'.repeat(12)}${i}`)
  const colons = await send(JSON.stringify({ to: ['+48500600700', ...phones], text: 'a":b\\":' }))
  t.match(colons, { status: 200, body: { queued: 1, unsent: 300 } }, 'a valid body of colons and quotes is sent')
  t.equal(gw.simulator.received[0]?.body.text, 'a":b\\":', 'as written')
})

/** The pointer to the first key repeated in an object of a value, in the order of its text; undefined if none is. */
function firstRepeat (value: Tree, pointer = ''): string | undefined {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = firstRepeat(item, `${pointer}/${index}`)
      if (found !== undefined) return found
    }
  } else if (value !== null && typeof value === 'object') {
    const seen = new Set<string>()
    for (const [key, item] of value.members) {
      if (seen.has(key)) return `${pointer}/${pointerToken(key)}`
      seen.add(key)
      const found = firstRepeat(item, `${pointer}/${pointerToken(key)}`)
      if (found !== undefined) return found
    }
  }
  return undefined
}

t.test('a key repeated in an object of a JSON text is told, and the first one pointed at; colons and quotes in strings are no keys', async (t) => {
  fc.assert(fc.property(tree, gaps, (value, spaces) => {
    let next = 0
    const text = serialise(value, () => spaces[next++ % spaces.length] as string)
    const expected = firstRepeat(value)
    const found = repeatedKey(Buffer.from(text), JSON.parse(text))
    return expected === undefined ? found === undefined : found?.field === expected && found.reason === REPEATED_KEY_REASON
  }), { numRuns: 3000 })
})

t.test('a repeated key hidden by a colon written as an escape is told too', async (t) => {
  // Three colon bytes, and three colons in what JSON.parse keeps: "a:" (escaped), and "b" once.
  for (const escape of ['\\u003a', '\\u003A']) {
    const text = `{"a${escape}":1,"b":2,"b":3}`
    t.same(repeatedKey(Buffer.from(text), JSON.parse(text)), { field: '/b', reason: REPEATED_KEY_REASON }, escape)
    const alone = `{"a${escape}":1,"b":"c:d"}`
    t.equal(repeatedKey(Buffer.from(alone), JSON.parse(alone)), undefined, `${escape}, nothing repeated`)
  }
  const spelled = '{"text":"a","te\\u0078t":"b"}'
  t.same(repeatedKey(Buffer.from(spelled), JSON.parse(spelled)), { field: '/text', reason: REPEATED_KEY_REASON }, 'keys compared as decoded')
  const deep = `${'{"a":'.repeat(40)}{"b":1,"b":2}${'}'.repeat(40)}`
  t.same(repeatedKey(Buffer.from(deep), JSON.parse(deep)), { field: '', reason: REPEATED_KEY_REASON }, 'nested deeper than a pointer is kept: the body')
  t.equal(repeatedKey(Buffer.from('[1,2]'), [1, 2]), undefined, 'a list of no objects')
})

t.test('the gateway refuses a send with a key repeated, naming it, and sends nothing', async (t) => {
  const gw = await startGateway(t)
  const send = async (body: string) => {
    const response = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body })
    return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as Record<string, unknown> }
  }
  t.match(await send('{"to":"+48500600700","text":"Pay 10 PLN","text":"Pay 1000 PLN"}'), {
    status: 400,
    type: /^application\/problem\+json/,
    body: { code: 'GW_VALIDATION_FAILED', detail: `/text: ${REPEATED_KEY_REASON}`, errors: [{ field: '/text', reason: REPEATED_KEY_REASON }] }
  })
  t.equal(gw.simulator.received.length, 0, 'nothing sent')
  // 2,000 numbers and a link: the colon of the text is found before the numbers are looked at.
  const many = { to: Array.from({ length: 2000 }, (_, i) => `+48500${String(i).padStart(6, '0')}`), text: 'See https://example.com/a:b' }
  t.match(await send(JSON.stringify(many)), { status: 200, body: { queued: 2000 } }, 'colons in strings are no repeats')
})
