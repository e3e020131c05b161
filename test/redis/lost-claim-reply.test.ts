import { Redis, ReplyError } from 'ioredis'
import t, { type Test } from 'tap'
import { mayHaveBeenCarriedOut } from '../../src/idempotency/redis-store.js'
import { sendKeyed, startGateway, type GatewayUnderTest } from '../helper.js'
import { startRedisProxy } from '../redis-proxy.js'
import { startRedis, waitFor } from '../servers.js'

const KEY_PREFIX = 'sms-gateway:idempotency:billing:'
const RELEASING = 'the idempotency claim may have been taken though its answer was lost; releasing it in the background'
const RELEASED = 'released the idempotency key after the store came back'

/** A gateway whose Redis connection goes through a proxy that can intercept answers, and a connection of the test's own to Redis. */
async function gatewayBehindProxy (t: Test) {
  const redisServer = await startRedis(t)
  const proxy = await startRedisProxy(t, redisServer.port)
  const gw = await startGateway(t, { env: { REDIS_URL: proxy.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())
  return { proxy, gw, admin }
}

/** The claim of a send that sent nothing is released in the background, and a retry with its key sends once. */
async function releasedThenSent (t: Test, gw: GatewayUnderTest, admin: Redis, key: string): Promise<void> {
  await waitFor('the claim to be released in the background', async () => await admin.exists(`${KEY_PREFIX}${key}`) === 0)
  // This test's own connection can see the key gone before the gateway's has read the same answer.
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === RELEASED))
  const retry = await sendKeyed(gw.url, key)
  t.equal(retry.status, 200, 'the retry with the same key sends, instead of 409 and then "outcome unknown"')
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
}

t.test('a claim Redis carried out but whose answer was lost is released once Redis answers again', async (t) => {
  const { proxy, gw, admin } = await gatewayBehindProxy(t)
  proxy.interceptAnswerTo(`${KEY_PREFIX}lost-1`, 'drop')
  const first = await sendKeyed(gw.url, 'lost-1')
  t.equal(first.status, 503, 'the claim failed on the gateway\'s side: nothing was sent')
  t.equal(proxy.dropped(), 1, 'Redis answered the claim, and the answer was dropped')
  t.equal(gw.simulator.stats.sendRequests, 0)
  t.ok(gw.logs.entries.some((entry) => entry.msg === RELEASING))
  await releasedThenSent(t, gw, admin, 'lost-1')
})

t.test('a claim that reaches Redis after the gateway released it (late, on a connection lost here) cannot take the key', async (t) => {
  const { proxy, gw, admin } = await gatewayBehindProxy(t)
  proxy.interceptAnswerTo(`${KEY_PREFIX}late-1`, 'late')
  const first = await sendKeyed(gw.url, 'late-1')
  t.match(await first.json(), { code: 'GW_IDEMPOTENCY_STORE_UNAVAILABLE' }, 'the claim\'s connection lost: nothing sent')
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === RELEASED))
  t.equal(await proxy.deliverLate(), ':0\r\n', 'the claim, at last at Redis, is refused there')
  t.equal(await admin.exists(`${KEY_PREFIX}late-1`), 0, 'the key stays free')
  const retry = await sendKeyed(gw.url, 'late-1')
  t.equal(retry.status, 200, 'the retry with the same key sends, instead of 409 and then "outcome unknown" for the key\'s whole life')
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
})

t.test('while Redis is down, refused claims leave nothing to release', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  await redisServer.stop()
  await waitFor('the outage to be noticed', () => gw.logs.entries.some((e) => e.msg === 'redis connection failed'))
  for (let i = 0; i < 20; i++) t.equal((await sendKeyed(gw.url, `down-${i}`)).status, 503)
  // Closing makes one last attempt at whatever is still waiting, and says how many failed.
  await gw.app.close()
  t.notOk(gw.logs.entries.some((e) => /closing with idempotency keys/.test(String(e.msg))), 'no background release was waiting')
})

t.test('a claim that timed out, whose release behind it was lost with the connection, is released once Redis answers again', async (t) => {
  const { proxy, gw, admin } = await gatewayBehindProxy(t)
  // Redis carries the claim out; its answer is held past the gateway's 1-s command timeout, and the
  // gateway's next command (the claim's release) cuts the connection before it reaches Redis.
  proxy.interceptAnswerTo(`${KEY_PREFIX}cut-1`, 'cut-at-next-command')
  const first = await sendKeyed(gw.url, 'cut-1')
  t.equal(first.status, 503, 'the claim timed out on the gateway\'s side: nothing was sent')
  await waitFor('the release to be lost with the connection', () => proxy.cut() === 1)
  t.equal(gw.simulator.stats.sendRequests, 0)
  // The gateway reconnects through the proxy, which now passes everything.
  await releasedThenSent(t, gw, admin, 'cut-1')
})

t.test('a claim Redis refused leaves nothing to release later; one that timed out is released in the background', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())
  const releasing = () => gw.logs.entries.filter((e) => e.msg === RELEASING).length

  // Timed out: Redis may still carry the claim out (test/redis/redis-plugin.test.ts).
  // Long enough for the rate limiter's own write (shared through Redis) to time out first, then the claim's.
  await admin.call('CLIENT', 'PAUSE', '2500', 'WRITE')
  const timedOut = await sendKeyed(gw.url, 'timed-out-claim')
  t.equal(timedOut.status, 503, await timedOut.text())
  t.equal(releasing(), 1, 'the timed-out claim is released in the background')
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === RELEASED))
  // Refused: Redis answers the SET with an error (out of memory), so it stored nothing.
  await admin.config('SET', 'maxmemory', '1')
  const refused = await sendKeyed(gw.url, 'refused-claim')
  t.equal(refused.status, 503, await refused.text())
  await admin.config('SET', 'maxmemory', '0')
  t.equal(releasing(), 1, 'none for the refused claim')
  t.equal(gw.simulator.stats.sendRequests, 0)
})

t.test('every claim error counts as maybe carried out but a refusal by Redis and a command never written', async (t) => {
  t.ok(mayHaveBeenCarriedOut(new Error('Command timed out')), 'Redis may carry it out late')
  t.ok(mayHaveBeenCarriedOut(new Error('Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.')))
  t.ok(mayHaveBeenCarriedOut(new Error('Connection is closed.')))
  t.ok(mayHaveBeenCarriedOut('something else'), 'what is not known to be harmless')
  t.notOk(mayHaveBeenCarriedOut(new Error("Stream isn't writeable and enableOfflineQueue options is false")))
  t.notOk(mayHaveBeenCarriedOut(new ReplyError('OOM command not allowed when used memory > \'maxmemory\'.')))
})

t.test('during a long stall, the background releases wait for Redis to answer a ping, not each sending its own every round', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())
  const requests = 20
  await admin.config('RESETSTAT')
  // Every command (claims, releases, pings) waits 7 s: each of the gateway's times out after 1 s.
  await admin.call('CLIENT', 'PAUSE', '7000', 'ALL')
  const answers = await Promise.all(Array.from({ length: requests }, async (_, i) => await sendKeyed(gw.url, `stalled-${i}`)))
  t.same(answers.map((answer) => answer.status), Array(requests).fill(503), 'nothing sent')
  await waitFor('every claim to be released', () => gw.logs.entries.filter((entry) => entry.msg === RELEASED).length === requests, 30_000)
  for (let i = 0; i < requests; i++) t.equal(await admin.exists(`${KEY_PREFIX}stalled-${i}`), 0)
  // Each claim is one EVAL, and each release one once Redis answers; while it did not, only pings
  // went (a release of each request each round made ~60 EVALs of releases in all here).
  const evals = Number(/cmdstat_eval:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
  t.ok(evals >= 2 * requests && evals < 3 * requests, `${evals} EVALs for ${requests} claims and ${requests} releases`)
  t.equal(gw.simulator.stats.sendRequests, 0)
})
