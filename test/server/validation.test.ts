import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import t from 'tap'
import { SendSmsBodySchema } from '../../src/schemas/sms.js'
import { serverOptions } from '../../src/server-options.js'
import { boundErrorsOfLongLists, listFields, LONGEST_LIST_FOR_EVERY_ERROR } from '../../src/validation.js'
import { authHeader, startGateway, testConfig } from '../helper.js'

const schema = { type: 'object', properties: { to: { type: 'array', items: { type: 'string' } }, text: { type: 'string' } }, additionalProperties: false }
const route = { method: 'POST', url: '/x', httpPart: 'body', schema }
const options = { customOptions: { allErrors: true, coerceTypes: false } }

t.test('a body with a long list is checked for its first error only; other bodies for every error', async (t) => {
  const built: boolean[] = []
  const counting: ValidatorFactory = (externalSchemas, factoryOptions) => {
    built.push((factoryOptions?.customOptions as { allErrors?: boolean } | undefined)?.allErrors === true)
    return AjvCompiler()(externalSchemas, factoryOptions)
  }
  const validate = boundErrorsOfLongLists(counting)({}, options)(route)
  t.same(built, [true], 'the first-error twin is not built before a long list comes')

  t.equal(validate({ to: ['+48500600700'], text: 'x' }), true)
  t.equal(validate({ to: [1, 2, 3], text: 4 }), false)
  t.equal(validate.errors?.length, 4, 'a short list: every error')

  const long = Array.from({ length: LONGEST_LIST_FOR_EVERY_ERROR + 1 }, (_, i) => i)
  t.equal(validate({ to: long, text: 'x' }), false)
  t.same(validate.errors?.map((e) => e.instancePath), ['/to/0'], 'a long list: its first error')
  t.same(built, [true, false], 'the twin is built once a long list comes')
  t.equal(validate({ to: long.map(String), text: 'x' }), true, 'a long list of the right items is valid')
  t.equal(validate({ to: [1], text: 'x' }), false)
  t.equal(validate.errors?.length, 1, 'errors are those of the validator that ran')
})

t.test('the gateway refuses a body-limit of wrong items naming the first, not ~400,000 of them', async (t) => {
  const gw = await startGateway(t)
  const send = async (to: unknown) => fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeader() },
    body: JSON.stringify({ to, text: 'x' })
  })
  const overlong = await send(Array.from({ length: 400_000 }, () => 1))
  t.equal(overlong.status, 400)
  t.same((await overlong.json() as { errors: unknown }).errors, [{ field: '/to', reason: 'must NOT have more than 100000 items' }])
  const wrong = await send(Array.from({ length: 50_000 }, () => 1))
  t.same((await wrong.json() as { errors: unknown }).errors, [{ field: '/to/0', reason: 'must be string' }])
  t.equal(gw.simulator.received.length, 0)
})

t.test('a body is looked into only where a long list may be, never key by key', async (t) => {
  t.same(listFields(SendSmsBodySchema), ['to', 'uniqueId'], 'POST /sms: the fields that may be lists')
  const others = { type: 'object', properties: { a: { type: 'string' }, b: { type: ['array', 'null'] }, c: {}, d: { oneOf: [{ type: 'string' }] }, e: true, f: false, g: { anyOf: [{ type: 'integer' }, { type: 'array' }] } }, additionalProperties: false }
  t.same(listFields(others), ['b', 'c', 'e', 'g'], 'said to be arrays, or not said')
  t.equal(listFields({ ...others, additionalProperties: true }), undefined, 'a schema that takes other fields')
  t.equal(listFields({ ...others, patternProperties: { '^x': { type: 'array' } } }), undefined, 'or checks them')
  t.equal(listFields(true), undefined)

  const gatewayOptions = { customOptions: serverOptions(testConfig()).ajv?.customOptions }
  const validate = boundErrorsOfLongLists()({}, gatewayOptions)({ ...route, schema: SendSmsBodySchema })
  // Ajv names an unknown field without reading its value; only the long-list check could.
  const values: Record<string, unknown> = { to: '+48500600700', text: 'x' }
  for (let i = 0; i < 5000; i++) values[`k${i}`] = i
  let read = 0
  const counted = new Proxy(values, { get: (target, key, receiver) => { if (typeof key === 'string' && key.startsWith('k')) read++; return Reflect.get(target, key, receiver) as unknown } })
  t.equal(validate(counted), false)
  t.equal(validate.errors?.length, 5000, 'every unknown field named')
  t.equal(read, 0, 'none of their values read')
  t.equal(validate({ ...values, uniqueId: Array.from({ length: LONGEST_LIST_FOR_EVERY_ERROR + 1 }, () => 1) }), false)
  t.equal(validate.errors?.length, 1, 'a long list among them still found: its first error')
})

t.test('for a schema that takes other fields, an object of as many keys as a long list counts as one', async (t) => {
  const open = { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: { type: 'integer' } }
  const built: boolean[] = []
  const counting: ValidatorFactory = (externalSchemas, factoryOptions) => {
    built.push((factoryOptions?.customOptions as { allErrors?: boolean } | undefined)?.allErrors === true)
    return AjvCompiler()(externalSchemas, factoryOptions)
  }
  const validate = boundErrorsOfLongLists(counting)({}, options)({ ...route, schema: open })
  const wrong = (keys: number) => Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, 'x']))
  t.equal(validate(wrong(LONGEST_LIST_FOR_EVERY_ERROR)), false)
  t.equal(validate.errors?.length, LONGEST_LIST_FOR_EVERY_ERROR, 'as many keys as a list may have: every error')
  t.equal(validate({ k: Array.from({ length: LONGEST_LIST_FOR_EVERY_ERROR + 1 }, () => 1) }), false)
  t.equal(validate.errors?.length, 1, 'a long list under any key: its first error')
  t.equal(validate(wrong(LONGEST_LIST_FOR_EVERY_ERROR + 1)), false)
  t.equal(validate.errors?.length, 1, 'one key more: its first error')
  t.same(built, [true, false])
})
