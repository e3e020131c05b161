import { request } from 'node:http'
import t from 'tap'
import { headerCount } from '../../src/raw-headers.js'
import { OTHER_API_KEY, TEST_API_KEY, startGateway, type GatewayUnderTest } from '../helper.js'

/** node:http sends an array value as one header line per element, as a client repeating a header would. */
async function postWith (gw: GatewayUnderTest, headers: Record<string, string | string[]>): Promise<{ status: number, body: { code: string, detail: string, errors?: unknown } }> {
  return new Promise((resolve, reject) => {
    const call = request(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }) })
    })
    call.on('error', reject)
    call.end(JSON.stringify({ to: '+48500600700', text: 'x' }))
  })
}

t.test('headerCount counts a header by name, whatever its case', async (t) => {
  t.equal(headerCount(['Host', 'x', 'Authorization', 'a', 'AUTHORIZATION', 'b', 'authorizations', 'c'], 'authorization'), 2)
  t.equal(headerCount([], 'authorization'), 0)
})

t.test('a repeated Authorization or Idempotency-Key header is refused, never read as one', async (t) => {
  const gw = await startGateway(t)
  const twoKeys = await postWith(gw, { authorization: [`Bearer ${TEST_API_KEY}`, `Bearer ${OTHER_API_KEY}`] })
  t.equal(twoKeys.status, 401)
  t.match(twoKeys.body, { code: 'GW_AUTH_INVALID', detail: 'Send one Authorization header, not several.' })
  const twoIdempotencyKeys = await postWith(gw, { authorization: `Bearer ${TEST_API_KEY}`, 'idempotency-key': ['dupA', 'dupB'] })
  t.equal(twoIdempotencyKeys.status, 400)
  t.same(twoIdempotencyKeys.body.errors, [{ field: 'headers:/idempotency-key', reason: 'is repeated' }])
  t.equal(gw.simulator.received.length, 0, 'nothing was sent')
  const joined = await postWith(gw, { authorization: `Bearer ${TEST_API_KEY}`, 'idempotency-key': 'dupA, dupB' })
  t.equal(joined.status, 200, 'one header whose key has a comma is a key like any other')
})

t.test('a repeated Authorization header on /metrics is refused though its first is the token', async (t) => {
  const token = 'metrics-token-0123456789'
  const gw = await startGateway(t, { env: { METRICS_TOKEN: token } })
  const scrape = async (authorization: string | string[]) => new Promise<number>((resolve, reject) => {
    const headers: Record<string, string | string[]> = { authorization }
    const call = request(`${gw.url}/metrics`, { headers }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    call.on('error', reject)
    call.end()
  })
  t.equal(await scrape(`Bearer ${token}`), 200)
  t.equal(await scrape([`Bearer ${token}`, 'Bearer x']), 401, 'the token, then another')
  t.equal(await scrape(['Bearer x', `Bearer ${token}`]), 401, 'another, then the token')
})
