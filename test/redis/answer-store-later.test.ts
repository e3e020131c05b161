import t from 'tap'
import { Redis } from 'ioredis'
import { sendKeyed, startGateway } from '../helper.js'
import { redisDataDir, startRedis, waitFor } from '../servers.js'

t.test('an answer Redis could not take is replayed by the gateway that gave it, with Redis down and after it is back', async (t) => {
  // Redis keeps its data over the restart: the claim is still there when it comes back.
  const args = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', redisDataDir(t)]
  const redisServer = await startRedis(t, undefined, args)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url, SERWERSMS_TIMEOUT_MS: '10000' }, simulator: { latencyMs: 1500 } })
  const first = sendKeyed(gw.url, 'late-1')
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  await redisServer.stop()
  const answer = await first
  t.equal(answer.status, 200)
  const firstBody = await answer.text()

  const during = await sendKeyed(gw.url, 'late-1')
  t.equal(during.status, 200, 'not 503: this gateway holds the answer')
  t.equal(during.headers.get('idempotent-replayed'), 'true')
  t.equal(await during.text(), firstBody, 'the same answer')
  const other = await sendKeyed(gw.url, 'late-1', { body: { to: '+48500600701', text: 'another' } })
  t.equal(other.status, 422, 'another body with the key is a reused key')

  await startRedis(t, redisServer.port, args)
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  const after = await sendKeyed(gw.url, 'late-1')
  t.equal(after.status, 200, 'not 409 while the claim waits for its answer')
  t.equal(after.headers.get('idempotent-replayed'), 'true')
  await waitFor('the answer to reach Redis', async () => JSON.parse(await redis.get('sms-gateway:idempotency:billing:late-1') ?? '{}').state === 'done', 30_000)
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
})
