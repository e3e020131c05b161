import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { sendKeyed, startGateway, type GatewayUnderTest } from '../helper.js'
import { startRedis, waitFor } from '../servers.js'

const send = async (gw: GatewayUnderTest, key: string) => sendKeyed(gw.url, key)

/**
 * A gateway on a real Redis with a keyed send held at the provider: the gateway, a connection of the
 * test's own to Redis, the send's answer to come, and the Redis key of its claim.
 */
async function sendHeldAtProvider (t: Test, key: string, env: Record<string, string>) {
  const redisServer = await startRedis(t)
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url, ...env }, simulator: { latencyMs: 1500 } })
  const first = send(gw, key)
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  return { gw, redis, first, claimKey: `sms-gateway:idempotency:billing:${key}` }
}

t.test('a claim whose request ran past the longest a send can take answers "outcome unknown" and never sends again', async (t) => {
  const { gw, redis, first, claimKey: key } = await sendHeldAtProvider(t, 'stopped-1', { SERWERSMS_TIMEOUT_MS: '10000' })
  // What a gateway that stopped mid-send leaves behind: its claim, past its running time.
  const claim = JSON.parse((await redis.get(key))!) as { runningUntil: number }
  t.ok(await redis.pttl(key) > 23 * 3600_000, 'the claim holds the key as long as an answer would be kept (IDEMPOTENCY_TTL)')
  await redis.set(key, JSON.stringify({ ...claim, runningUntil: Date.now() - 1 }), 'KEEPTTL')

  const retry = await send(gw, 'stopped-1')
  t.equal(retry.status, 409)
  t.equal(retry.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(retry.headers.get('retry-after'), null, 'waiting will not tell: no Retry-After')
  const problem = await retry.json() as { code: string, detail: string }
  t.equal(problem.code, 'GW_IDEMPOTENCY_OUTCOME_UNKNOWN')
  t.match(problem.detail, /could not be confirmed.*which of its messages went out, if any, is unknown.*will not send them again: look them up by uniqueId/)
  t.notMatch(problem.detail, /went down/, 'the claim may as well be one whose release or answer never reached Redis')
  const otherBody = await sendKeyed(gw.url, 'stopped-1', { body: { to: '+48500600701', text: 'Pay 10 PLN' } })
  t.equal(otherBody.status, 422, 'another body with the key is still refused as a reused key')

  t.equal((await first).status, 200)
  const late = await send(gw, 'stopped-1')
  t.equal(late.status, 200, 'an answer stored after all replaces "unknown"')
  t.equal(late.headers.get('idempotent-replayed'), 'true')
  t.equal(gw.simulator.received.length, 1, 'sent once')
})

t.test('with an IDEMPOTENCY_TTL shorter than the running time, a claim still outlives its running time by the TTL', async (t) => {
  const { redis, first, claimKey: key } = await sendHeldAtProvider(t, 'short-1', { IDEMPOTENCY_TTL: '1 minute' })
  const [record, pttl] = await Promise.all([redis.get(key), redis.pttl(key)])
  const running = (JSON.parse(record!) as { runningUntil: number }).runningUntil - Date.now()
  // Both count down together; only the milliseconds between the claim's clock and its SET part them.
  t.ok(pttl - running >= 60_000 - 100, `kept ${pttl - running} ms past its running time: a stopped gateway's claim then says "outcome unknown" for IDEMPOTENCY_TTL instead of lapsing into a free key`)
  t.equal((await first).status, 200)
})
