import t from 'tap'
import { authHeader, OTHER_API_KEY, startGateway, type GatewayUnderTest } from '../helper.js'

async function send (gw: GatewayUnderTest, body: unknown, key?: string, apiKey?: string) {
  const response = await fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeader(apiKey), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body)
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

const order = { to: ['+48500600700', '+48500600701'], text: 'Pay 10 PLN' }

t.test('a repeat with the same key and body replays the first answer without sending again', async (t) => {
  const gw = await startGateway(t)
  const first = await send(gw, order, 'order-1')
  t.equal(first.status, 200)
  t.equal(first.headers.get('idempotent-replayed'), null)
  const again = await send(gw, { text: order.text, to: order.to }, 'order-1')
  t.equal(again.status, 200)
  t.equal(again.headers.get('idempotent-replayed'), 'true')
  t.equal(again.text, first.text, 'byte for byte the first answer, ids included')
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
  t.equal((await send(gw, order)).status, 200, 'without a key every request is sent')
  t.equal(gw.simulator.stats.sendRequests, 2)
})

t.test('the same key with another body is refused; keys are per client', async (t) => {
  const gw = await startGateway(t)
  await send(gw, order, 'k-1')
  const other = await send(gw, { ...order, text: 'Pay 1000 PLN' }, 'k-1')
  t.equal(other.status, 422)
  t.match(JSON.parse(other.text), { code: 'GW_IDEMPOTENCY_KEY_REUSED' })
  const otherClient = await send(gw, { ...order, text: 'Pay 1000 PLN' }, 'k-1', OTHER_API_KEY)
  t.equal(otherClient.status, 200, 'another client may use the same key string')
  t.equal(gw.simulator.stats.sendRequests, 2)
})

t.test('a repeat while the first is in flight gets 409 and is not sent', async (t) => {
  const gw = await startGateway(t, { simulator: { latencyMs: 400 } })
  const first = send(gw, order, 'slow-1')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const concurrent = await send(gw, order, 'slow-1')
  t.equal(concurrent.status, 409)
  t.equal(concurrent.headers.get('retry-after'), '1')
  t.match(JSON.parse(concurrent.text), { code: 'GW_IDEMPOTENCY_IN_FLIGHT' })
  t.equal((await first).status, 200)
  t.equal((await send(gw, order, 'slow-1')).headers.get('idempotent-replayed'), 'true')
  t.equal(gw.simulator.stats.sendRequests, 1)
})

t.test('many concurrent requests with one key send exactly once', async (t) => {
  const gw = await startGateway(t, { simulator: { latencyMs: 50 } })
  const answers = await Promise.all(Array.from({ length: 20 }, () => send(gw, order, 'burst-1')))
  t.equal(answers.filter((a) => a.status === 200 && a.headers.get('idempotent-replayed') === null).length, 1, 'one executes')
  t.ok(answers.every((a) => a.status === 409 || a.status === 200), 'the rest are refused while in flight, or replayed after')
  t.equal(gw.simulator.stats.sendRequests, 1)
})

t.test('a failed send that provably sent nothing frees its key; an uncertain one is replayed', async (t) => {
  const gw = await startGateway(t, { env: { SERWERSMS_TIMEOUT_MS: '300' } })
  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3100, message: 'Sending is blocked' }, times: 1 })
  t.equal((await send(gw, order, 'retry-1')).status, 422)
  const retried = await send(gw, order, 'retry-1')
  t.equal(retried.status, 200, 'the key may be used again after a refusal')
  t.equal(retried.headers.get('idempotent-replayed'), null)

  gw.simulator.setFault({ fault: { kind: 'hang' }, times: 1 })
  const timedOut = await send(gw, order, 'retry-2')
  t.equal(timedOut.status, 504)
  const replay = await send(gw, order, 'retry-2')
  t.equal(replay.status, 504, 'an answer that may have been sent is replayed, not re-sent')
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  t.equal(gw.simulator.stats.sendRequests, 3, 'the timed-out send was not repeated')
})

t.test('bad keys are refused before anything is sent', async (t) => {
  const gw = await startGateway(t)
  const long = await send(gw, order, 'x'.repeat(256))
  t.equal(long.status, 400)
  t.match(JSON.parse(long.text), { code: 'GW_VALIDATION_FAILED', errors: [{ field: /idempotency-key/ }] })
  const empty = await send(gw, order, '')
  t.equal(empty.status, 400)
  t.equal(gw.simulator.stats.sendRequests, 0)
})

t.test('rate limits are per client and answer 429 problems with Retry-After and RateLimit headers', async (t) => {
  const gw = await startGateway(t, { env: { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1 minute' } })
  const first = await send(gw, order)
  t.equal(first.status, 200)
  t.equal(first.headers.get('ratelimit-limit'), '2')
  t.equal(first.headers.get('ratelimit-remaining'), '1')
  t.equal((await send(gw, order)).status, 200)
  const limited = await send(gw, order)
  t.equal(limited.status, 429)
  t.equal(limited.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.match(JSON.parse(limited.text), { code: 'GW_RATE_LIMITED', status: 429 })
  t.ok(Number(limited.headers.get('retry-after')) > 0)
  t.equal(limited.headers.get('ratelimit-remaining'), '0')
  t.equal((await send(gw, order, undefined, OTHER_API_KEY)).status, 200, 'another client has its own budget')
  t.equal(gw.simulator.stats.sendRequests, 3)
})

t.test('a body refused before sending does not use up its key', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '1' } })
  const refused = await send(gw, order, 'fix-and-retry')
  t.equal(refused.status, 413)
  const fixed = await send(gw, { ...order, to: order.to[0] }, 'fix-and-retry')
  t.equal(fixed.status, 200, 'the corrected body may reuse the key')
  t.equal(fixed.headers.get('idempotent-replayed'), null)
})
