import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { openConnections, sendKeyed, startGateway, type GatewayUnderTest } from '../helper.js'
import { startRedisProxy } from '../redis-proxy.js'
import { startRedis, waitFor } from '../servers.js'

/** A keyed send whose caller hangs up once it is at the provider; `meanwhile` runs just before. */
async function hangUpMidSend (gw: GatewayUnderTest, key: string, meanwhile: () => Promise<unknown> = async () => {}): Promise<void> {
  const caller = new AbortController()
  sendKeyed(gw.url, key, { signal: caller.signal }).catch(() => {})
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  await meanwhile()
  caller.abort()
  // No connection is left to hold the close back: only the gateway's own bookkeeping can.
  await waitFor('the gateway to see the caller go', async () => await openConnections(gw) === 0)
}

async function redisFor (t: Test) {
  const server = await startRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const stored = async (key: string) => JSON.parse((await redis.get(`sms-gateway:idempotency:billing:${key}`))!) as { state: string, response?: { statusCode: number, body: string } }
  return { url: server.url, redis, stored }
}

t.test('closing waits for a keyed send whose caller hung up, and stores its real answer', async (t) => {
  const { url, stored } = await redisFor(t)
  const gw = await startGateway(t, { env: { REDIS_URL: url, SERWERSMS_TIMEOUT_MS: '10000' }, simulator: { latencyMs: 1500 } })
  await hangUpMidSend(gw, 'drain-1')
  await gw.app.close()

  t.equal(gw.simulator.received.length, 1)
  const record = await stored('drain-1')
  t.equal(record.state, 'done', 'the answer was stored before the store closed')
  t.equal(record.response?.statusCode, 200, 'the provider\'s real answer, not a send cut off by the closing')
  t.match(JSON.parse(record.response!.body), { queued: 1, unknown: 0 })
})

t.test('closing waits for an answer still being stored before it closes the store', async (t) => {
  const { url, redis, stored } = await redisFor(t)
  const gw = await startGateway(t, { env: { REDIS_URL: url }, simulator: { latencyMs: 300 } })
  // Redis holds writes back (under the gateway's 1-s command timeout): the answer's SET waits,
  // and a store closed meanwhile would drop it.
  await hangUpMidSend(gw, 'drain-2', async () => redis.call('CLIENT', 'PAUSE', '900', 'WRITE'))
  await gw.app.close()

  const record = await stored('drain-2')
  t.equal(record.state, 'done', 'the answer was stored, not left as a claim that would end as "outcome unknown"')
  t.equal(record.response?.statusCode, 200)
})

t.test('closing waits for a claim Redis is still answering, and releases it: nothing was sent', async (t) => {
  const { url, redis } = await redisFor(t)
  const proxy = await startRedisProxy(t, Number(new URL(url).port))
  const gw = await startGateway(t, { env: { REDIS_URL: proxy.url } })
  const key = 'sms-gateway:idempotency:billing:claim-while-closing'
  proxy.interceptAnswerTo(key, { delayMs: 500 })
  const caller = new AbortController()
  sendKeyed(gw.url, 'claim-while-closing', { signal: caller.signal }).catch(() => {})
  await waitFor('the claim to be on its way to Redis', () => proxy.intercepted() === 1)
  caller.abort()
  await waitFor('the gateway to see the caller go', async () => await openConnections(gw) === 0)
  await gw.app.close()

  t.equal(gw.simulator.stats.sendRequests, 0, 'nothing was sent: the gateway was closing when the claim came back')
  t.equal(await redis.exists(key), 0, 'the claim was released before the store closed, not left to answer retries 409, then "outcome unknown"')
})
