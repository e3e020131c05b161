import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import t from 'tap'
import { boundErrorsOfLongLists, LONGEST_LIST_FOR_EVERY_ERROR } from '../../src/validation.js'
import { authHeader, startGateway } from '../helper.js'

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
