import t from 'tap'
import { Agent, fetch } from 'undici'
import { describeValidation } from '../../src/plugins/problems.js'
import { bodyLimitFor } from '../../src/server-options.js'
import { startGateway } from '../helper.js'

interface AjvError { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

const typeError = (instancePath: string, type: string): AjvError => ({ instancePath, keyword: 'type', message: `must be ${type}`, params: { type } })

/** Ajv's errors (allErrors) for `to: [1, 1, …]` against the union of a phone and a list of phones. */
function wrongItems (count: number): AjvError[] {
  const errors = [typeError('/to', 'string')]
  for (let i = 0; i < count; i++) errors.push(typeError(`/to/${i}`, 'string'))
  errors.push({ instancePath: '/to', keyword: 'anyOf', message: 'must match a schema in anyOf', params: {} })
  return errors
}

t.test('a union\'s branch that wanted another type is left out; the errors inside the other branch stay', async (t) => {
  t.same(describeValidation(wrongItems(2), 'body'), [
    { field: '/to/0', reason: 'must be string' },
    { field: '/to/1', reason: 'must be string' }
  ])
  t.same(describeValidation([
    typeError('/to', 'string'),
    { instancePath: '/to', keyword: 'minItems', message: 'must NOT have fewer than 1 items', params: { limit: 1 } },
    { instancePath: '/to', keyword: 'anyOf', message: 'must match a schema in anyOf', params: {} }
  ], 'body'), [{ field: '/to', reason: 'must NOT have fewer than 1 items' }])
  t.same(describeValidation([typeError('', 'object')], 'body'), [{ field: '', reason: 'must be object' }])
})

t.test('describing the errors of a huge body reads each error a bounded number of times', async (t) => {
  // A body limit's worth of wrong items is ~400,000 errors: comparing each described error with
  // all the others (MAX_FIELD_ERRORS of them) took a single refusal over a second of CPU.
  const count = 10_000
  let reads = 0
  const errors = wrongItems(count).map((error) => {
    const { instancePath, ...rest } = error
    return Object.defineProperty(rest, 'instancePath', { get: () => { reads++; return instancePath }, enumerable: true }) as AjvError
  })
  const fields = describeValidation(errors, 'body')
  t.equal(fields.length, 20, 'the first MAX_FIELD_ERRORS fields')
  t.ok(reads <= 4 * errors.length, `${reads} reads of the errors' paths for ${errors.length} errors`)
})

t.test('a path no route serves is answered 404 before its body is read', async (t) => {
  const gw = await startGateway(t)
  // The answer comes before the client has finished writing the large body. Were the test to end
  // then, the gateway's close would find that connection busy, not close it, and wait until the
  // client dropped it: ~70 s of fetch's keep-alive. Its own client, closed below, drops it at once.
  const client = new Agent()
  const post = async (path: string, body: string, method = 'POST') => {
    const response = await fetch(`${gw.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body, dispatcher: client })
    return { status: response.status, body: await response.json() as { code: string, detail: string } }
  }
  t.match(await post('/nope', '{"not json'), { status: 404, body: { code: 'GW_NOT_FOUND', detail: 'No route for POST /nope.' } }, 'not refused as malformed JSON')
  t.match(await post('/sms', '{"not json', 'PUT'), { status: 405, body: { code: 'GW_METHOD_NOT_ALLOWED', detail: '/sms does not take PUT; it takes POST.' } }, 'a method the path does not take, before its body is read')
  t.match(await post('/nope', `"${'x'.repeat(bodyLimitFor(gw.config))}"`), { status: 404, body: { code: 'GW_NOT_FOUND' } }, 'not refused as too large')
  t.match(gw.logs.entries.filter((entry) => entry.path === '/nope'), [{ statusCode: 404, code: 'GW_NOT_FOUND' }, { statusCode: 404, code: 'GW_NOT_FOUND' }])
  await client.close()
})

t.test('a path served for other methods is answered 405 with the methods it takes', async (t) => {
  const gw = await startGateway(t)
  const cases: Array<[string, string, string]> = [
    ['GET', '/sms', 'POST'],
    ['OPTIONS', '/sms', 'POST'],
    ['DELETE', '/sms?x=1', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['PUT', '/dlr', 'GET, POST'],
    ['DELETE', '/metrics', 'GET, HEAD']
  ]
  for (const [method, path, allow] of cases) {
    const response = await fetch(`${gw.url}${path}`, { method })
    t.equal(response.status, 405, `${method} ${path}`)
    t.equal(response.headers.get('allow'), allow, `${method} ${path}: Allow`)
    t.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    t.match(await response.json(), { code: 'GW_METHOD_NOT_ALLOWED', status: 405, detail: `${path.split('?')[0]} does not take ${method}; it takes ${allow}.` })
  }
  for (const [method, path, allow] of [['GET', '/%73ms', 'POST'], ['DELETE', '/docs/', 'GET, HEAD'], ['DELETE', '/docs', 'GET, HEAD']]) {
    const response = await fetch(`${gw.url}${path}`, { method })
    t.same([response.status, response.headers.get('allow')], [405, allow], `${method} ${path}: as the router reads the path`)
  }
  t.equal((await fetch(`${gw.url}/smsx`, { method: 'GET' })).status, 404, 'a path not served at all is still 404')
  t.equal((await fetch(`${gw.url}/%ff`, { method: 'GET' })).status, 400, 'an escape that is not UTF-8 is no path at all')
  t.equal((await fetch(`${gw.url}/docs/static/nope.js`, { method: 'DELETE' })).status, 404, 'paths under a wildcard are not listed')
})
