import { Redis } from 'ioredis'
import t from 'tap'
import { fingerprintRequest } from '../../src/idempotency/fingerprint.js'
import { authHeader, OTHER_API_KEY, startGateway, type GatewayUnderTest } from '../helper.js'
import { startRedis, waitFor } from '../servers.js'

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

t.test('an in-memory store too small for its TTL says so in a metric', async (t) => {
  const gw = await startGateway(t, { env: { IDEMPOTENCY_MAX_KEYS: '100' } })
  const evicted = async () => Number(/^sms_gateway_idempotency_answers_evicted_total (\d+)$/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1])
  t.equal(await evicted(), 0, 'exported from the start')
  for (let i = 0; i < 103; i++) t.equal((await send(gw, order, `fill-${i}`)).status, 200)
  const count = await evicted()
  t.equal(count, 3, `three answers dropped within IDEMPOTENCY_TTL (${count})`)
  t.equal((await send(gw, order, 'fill-0')).headers.get('idempotent-replayed'), null, 'and a retry of the first one is sent again, as the metric warned')
})

t.test('one client\'s answers filling the in-memory store push out its own, not another client\'s', async (t) => {
  const gw = await startGateway(t, { env: { IDEMPOTENCY_MAX_KEYS: '100' } })
  t.equal((await send(gw, order, 'billing-1')).status, 200)
  for (let i = 0; i < 103; i++) t.equal((await send(gw, order, `flood-${i}`, OTHER_API_KEY)).status, 200)
  const retry = await send(gw, order, 'billing-1')
  t.equal(retry.headers.get('idempotent-replayed'), 'true', 'billing\'s retry is replayed, not sent again')
  t.equal((await send(gw, order, 'flood-0', OTHER_API_KEY)).headers.get('idempotent-replayed'), null, 'shop\'s oldest went instead')
  t.equal(gw.simulator.stats.sendRequests, 1 + 103 + 1)
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

t.test('a retry that writes one recipient as a list of one is the same request; other changes are not', async (t) => {
  const gw = await startGateway(t)
  const single = { to: '+48500600700', text: 'Pay 10 PLN', uniqueId: 'order4711' }
  const first = await send(gw, single, 'spelt-1')
  t.equal(first.status, 200)
  const asLists = await send(gw, { ...single, to: [single.to], uniqueId: [single.uniqueId] }, 'spelt-1')
  t.equal(asLists.status, 200, 'not refused as another body')
  t.equal(asLists.headers.get('idempotent-replayed'), 'true')
  t.equal(asLists.text, first.text)
  const listFirst = await send(gw, { to: [single.to], text: 'Pay 20 PLN' }, 'spelt-2')
  t.equal((await send(gw, { to: single.to, text: 'Pay 20 PLN' }, 'spelt-2')).headers.get('idempotent-replayed'), 'true', 'and the other way round')
  t.equal(listFirst.status, 200)
  // The same text, its accents composed or not: sent composed (NFC) either way.
  const composedFirst = await send(gw, { to: single.to, text: 'Zapłać za zamówienie' }, 'spelt-3')
  const decomposed = await send(gw, { to: single.to, text: 'Zapłać za zamówienie'.normalize('NFD') }, 'spelt-3')
  t.equal(decomposed.headers.get('idempotent-replayed'), 'true', 'a text written decomposed is the same request')
  t.equal(decomposed.text, composedFirst.text)
  t.equal(gw.simulator.stats.sendRequests, 3, 'each sent once')
  // Tomorrow at 10:30 UTC: a valid sendAt whatever the date (never in the hour Polish clocks repeat).
  const later = new Date(Date.now() + 86_400_000)
  later.setUTCHours(10, 30, 0, 0)
  for (const other of [{ ...single, to: [single.to, '+48500600701'], uniqueId: [single.uniqueId, 'order4712'] }, { ...single, flash: true }, { ...single, sendAt: later.toISOString() }]) {
    const refused = await send(gw, other, 'spelt-1')
    t.equal(refused.status, 422, JSON.stringify(Object.keys(other)))
    t.match(JSON.parse(refused.text).detail, /may have been sent\. Use a new key only for a new message, never for this one written differently/, 'a new key is not said to be safe')
  }
  t.equal(gw.simulator.stats.sendRequests, 3)
  // Without a default sender, an empty one asks what none does (ECO+): the same request.
  const noSender = await send(gw, { to: single.to, text: 'ECO' }, 'spelt-4')
  const emptySender = await send(gw, { to: single.to, text: 'ECO', sender: '' }, 'spelt-4')
  t.equal(emptySender.headers.get('idempotent-replayed'), 'true', 'an empty sender, without SERWERSMS_SENDER, is no sender')
  t.equal(emptySender.text, noSender.text)
  t.equal(gw.simulator.stats.sendRequests, 4)
})

t.test('with SERWERSMS_SENDER, an empty sender (ECO+) and none (the default sender) are two requests', async (t) => {
  const gw = await startGateway(t, { env: { SERWERSMS_SENDER: 'FIRMA' } })
  t.equal((await send(gw, { to: '+48500600700', text: 'x' }, 'sender-1')).status, 200)
  const eco = await send(gw, { to: '+48500600700', text: 'x', sender: '' }, 'sender-1')
  t.equal(eco.status, 422, 'refused as another body, not replayed as the FULL send it is not')
  t.equal(gw.simulator.stats.sendRequests, 1)
})

t.test('a key stored before texts were composed for fingerprints still replays the same body, byte for byte as sent', async (t) => {
  const redis = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url } })
  const admin = new Redis(redis.url)
  t.teardown(() => admin.disconnect())
  // As the gateway before 2026-11-27 stored it: the fingerprint of the text as written (here decomposed).
  const body = { to: '+48500600700', text: 'Zapłać za zamówienie'.normalize('NFD') }
  const answer = { statusCode: 200, contentType: 'application/json; charset=utf-8', body: '{"queued":1,"unsent":0,"failed":0,"unknown":0,"parts":1,"messages":[{"phone":"+48500600700","status":"queued","id":"older1","parts":1}]}' }
  const store = async (key: string, stored: typeof body) => await admin.set(`sms-gateway:idempotency:billing:${key}`, JSON.stringify({ state: 'done', fingerprint: fingerprintRequest('POST', '/sms', stored), response: answer }), 'PX', 60_000)
  await store('older-1', body)
  const retry = await send(gw, body, 'older-1')
  t.equal(retry.headers.get('idempotent-replayed'), 'true', 'replayed')
  t.equal(retry.text, answer.body)
  await store('older-3', body)
  t.equal((await send(gw, { ...body, text: 'Zapłać za coś innego'.normalize('NFD') }, 'older-3')).status, 422, 'another text is another request')
  t.equal(gw.simulator.stats.sendRequests, 0, 'nothing sent')
})

t.test('a repeat while the first is in flight gets 409 and is not sent', async (t) => {
  const gw = await startGateway(t, { simulator: { latencyMs: 400 } })
  const first = send(gw, order, 'slow-1')
  // Claimed for sure once the send is at the provider (the key is claimed first): no guess at how long that takes.
  await waitFor('the first send to reach the provider', () => gw.simulator.stats.inFlight === 1)
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
  // Short, for the hang's 504; long enough for the ordinary sends on a loaded machine.
  const gw = await startGateway(t, { env: { SERWERSMS_TIMEOUT_MS: '1000' } })
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
  // The window as configured, not the time left of the current one (that is Retry-After's).
  t.equal(JSON.parse(limited.text).detail, 'This client may make 2 requests per 60 s (RATE_LIMIT_WINDOW); retry after the Retry-After seconds.')
  t.ok(Number(limited.headers.get('retry-after')) > 0)
  t.equal(limited.headers.get('ratelimit-remaining'), '0')
  t.equal((await send(gw, order, undefined, OTHER_API_KEY)).status, 200, 'another client has its own budget')
  t.equal(gw.simulator.stats.sendRequests, 3)
  const malformed = async () => fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader(OTHER_API_KEY) }, body: '{"to":' })
  t.equal((await malformed()).status, 400, 'a body that cannot be parsed...')
  t.equal((await malformed()).status, 429, '...counts against the budget too')
})

t.test('a body refused before sending does not use up its key', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '1' } })
  const refused = await send(gw, order, 'fix-and-retry')
  t.equal(refused.status, 413)
  const fixed = await send(gw, { ...order, to: order.to[0] }, 'fix-and-retry')
  t.equal(fixed.status, 200, 'the corrected body may reuse the key')
  t.equal(fixed.headers.get('idempotent-replayed'), null)
})

t.test('a retry gets the first answer even where reading its order again would refuse it', async (t) => {
  const gw = await startGateway(t)
  // Accepted now (10 s to spare for a loaded machine); refused as "in the past" once more than 5
  // minutes have gone by since it: wait until a second past that.
  const sendAtMs = Date.now() - 5 * 60_000 + 10_000
  const sendAt = new Date(sendAtMs).toISOString()
  const first = await send(gw, { ...order, sendAt }, 'scheduled-1')
  t.equal(first.status, 200)
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, sendAtMs + 5 * 60_000 + 1000 - Date.now())))
  const fresh = await send(gw, { ...order, sendAt }, 'another-key')
  t.equal(fresh.status, 400, 'the order itself is refused by now')
  const retry = await send(gw, { ...order, sendAt }, 'scheduled-1')
  t.equal(retry.status, 200)
  t.equal(retry.headers.get('idempotent-replayed'), 'true')
  t.equal(retry.text, first.text)
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
})

t.test('which answers prove that nothing was sent', async (t) => {
  const { provesNothingSent } = await import('../../src/plugins/idempotency.js')
  t.notOk(provesNothingSent(200, '{"queued":1,"unsent":0,"failed":0,"unknown":0}'))
  t.ok(provesNothingSent(502, '{"code":"GW_UPSTREAM_UNREACHABLE","queued":0,"unsent":0,"failed":2,"unknown":0}'), 'every recipient failed')
  t.notOk(provesNothingSent(504, '{"code":"GW_UPSTREAM_TIMEOUT","queued":0,"unsent":0,"failed":0,"unknown":2}'), 'may have been sent')
  t.ok(provesNothingSent(503, '{"code":"GW_SHUTTING_DOWN","queued":0,"unsent":1,"failed":1,"unknown":0}'), 'a number the gateway refused itself was never sent either: the advice to retry holds for the key')
  t.notOk(provesNothingSent(502, '{"code":"GW_UPSTREAM_BAD_RESPONSE","queued":0,"unsent":1,"failed":0,"unknown":1}'), 'one that may have been sent keeps the key')
  t.ok(provesNothingSent(400, '{"code":"GW_VALIDATION_FAILED","errors":[]}'), 'refused before the send began')
  t.ok(provesNothingSent(413, '{"code":"GW_RECIPIENTS_TOO_MANY","limit":1}'))
  t.notOk(provesNothingSent(500, '{"code":"GW_INTERNAL"}'), 'a failure without counts after the send may have begun is kept')
  t.ok(provesNothingSent(503, '{"code":"GW_BUSY","limit":100000}'), 'refused as busy before the send began')
  t.notOk(provesNothingSent(503, '{"code":"GW_IDEMPOTENCY_STORE_UNAVAILABLE"}'), 'another 503 without counts is kept')
  t.notOk(provesNothingSent(400, 'not json'))
})
