import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import t from 'tap'
import { compileSerializersOnFirstUse } from '../../src/server-options.js'
import { authHeader, startGateway } from '../helper.js'

const schema = { type: 'object', properties: { id: { type: 'string' }, count: { type: 'integer' } } }
const route = { method: 'GET', url: '/x', httpStatus: '200', schema }

t.test('a response serializer is compiled when its first answer is given, once, and writes what fast-json-stringify writes', async (t) => {
  const compiled: string[] = []
  const counting = SerializerSelector()
  const factory = compileSerializersOnFirstUse((externalSchemas, options) => {
    const compile = counting(externalSchemas, options)
    return (definition) => {
      compiled.push(definition.httpStatus)
      return compile(definition)
    }
  })
  const serialize = factory({}, {})(route)
  t.same(compiled, [], 'nothing compiled when the route is registered')
  const document = { id: 'a1', count: 2, internal: 'never in an answer' }
  t.equal(serialize(document), '{"id":"a1","count":2}', 'fields outside the schema are left out, as before')
  t.equal(serialize({ id: 'b2', count: 3 }), '{"id":"b2","count":3}')
  t.same(compiled, ['200'], 'compiled once, on first use')
  t.equal(serialize(document), SerializerSelector()({}, {})(route)(document), 'the same text as the eager serializer')
})

t.test('the gateway answers with its serializers compiled on first use', async (t) => {
  const gw = await startGateway(t)
  const send = async () => fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeader() },
    body: JSON.stringify({ to: ['+48500600700', '45616'], text: 'Hello' })
  })
  for (const response of [await send(), await send()]) {
    t.equal(response.status, 200)
    t.match(await response.json(), { queued: 1, unsent: 1, messages: [{ status: 'queued' }, { status: 'unsent', error: { code: 'GW_PHONE_INVALID' } }] })
  }
})
