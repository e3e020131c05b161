import { Redis, ReplyError } from 'ioredis'
import t from 'tap'
import { lostWithConnection } from '../../src/idempotency/redis-store.js'
import { sendKeyed, startGateway } from '../helper.js'
import { startRedisProxy } from '../redis-proxy.js'
import { startRedis, waitFor } from '../servers.js'

const KEY_PREFIX = 'sms-gateway:idempotency:billing:'
const RELEASING = 'the idempotency claim may have been taken though its answer was lost; releasing it in the background'

t.test('a claim Redis carried out but whose answer was lost is released once Redis answers again', async (t) => {
  const redisServer = await startRedis(t)
  const proxy = await startRedisProxy(t, redisServer.port)
  const gw = await startGateway(t, { env: { REDIS_URL: proxy.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())

  proxy.interceptAnswerTo(`${KEY_PREFIX}lost-1`, 'drop')
  const first = await sendKeyed(gw.url, 'lost-1')
  t.equal(first.status, 503, 'the claim failed on the gateway\'s side: nothing was sent')
  t.equal(proxy.dropped(), 1, 'Redis answered the claim, and the answer was dropped')
  t.equal(gw.simulator.stats.sendRequests, 0)

  t.ok(gw.logs.entries.some((entry) => entry.msg === RELEASING))
  await waitFor('the claim to be released in the background', async () => await admin.exists(`${KEY_PREFIX}lost-1`) === 0)
  // This test's own connection can see the key gone before the gateway's has read the same answer.
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === 'released the idempotency key after the store came back'))
  const retry = await sendKeyed(gw.url, 'lost-1')
  t.equal(retry.status, 200, 'the retry with the same key sends, instead of 409 and then "outcome unknown"')
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

t.test('a claim Redis refused, or one that timed out on a connection that stays up, leaves nothing to release later', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())

  // Timed out: the release queued behind the SET on the same connection undoes it if it lands late
  // (test/redis/redis-plugin.test.ts); a background loop per request would pile up while Redis stalls.
  // Long enough for the rate limiter's own write (shared through Redis) to time out first, then the claim's.
  await admin.call('CLIENT', 'PAUSE', '2500', 'WRITE')
  const timedOut = await sendKeyed(gw.url, 'timed-out-claim')
  t.equal(timedOut.status, 503, await timedOut.text())
  // Refused: Redis answers the SET with an error (out of memory), so it stored nothing.
  await admin.config('SET', 'maxmemory', '1')
  const refused = await sendKeyed(gw.url, 'refused-claim')
  t.equal(refused.status, 503, await refused.text())
  await admin.config('SET', 'maxmemory', '0')
  t.notOk(gw.logs.entries.some((e) => e.msg === RELEASING), 'no background release for either')
  t.equal(gw.simulator.stats.sendRequests, 0)
})

t.test('only a connection lost with the command on its way counts as maybe carried out', async (t) => {
  t.ok(lostWithConnection(new Error('Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.')))
  t.ok(lostWithConnection(new Error('Connection is closed.')))
  t.notOk(lostWithConnection(new Error('Command timed out')))
  t.notOk(lostWithConnection(new Error("Stream isn't writeable and enableOfflineQueue options is false")))
  t.notOk(lostWithConnection(new ReplyError('OOM command not allowed when used memory > \'maxmemory\'.')))
  t.notOk(lostWithConnection('Connection is closed.'))
})
