import t from 'tap'
import { Redis } from 'ioredis'
import { sendKeyed, startGateway } from '../helper.js'
import { redisDataDir, startRedis, waitFor } from '../servers.js'

t.test('a key whose request provably sent nothing is released once Redis is back, not left to say "outcome unknown"', async (t) => {
  // Redis keeps its data over the restart.
  const args = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', redisDataDir(t)]
  const redisServer = await startRedis(t, undefined, args)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url, SERWERSMS_TIMEOUT_MS: '10000' }, simulator: { latencyMs: 1500 } })
  // The provider refuses the request: nothing is sent, so the key must be freed.
  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3102, message: 'Message too long' } })
  const first = sendKeyed(gw.url, 'refused-1')
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  await redisServer.stop()
  const answer = await first
  t.equal(answer.status, 422, `refused, nothing sent: ${await answer.text()}`)
  await startRedis(t, redisServer.port, args)
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  t.equal(await redis.exists('sms-gateway:idempotency:billing:refused-1'), 1, 'the claim survived the restart')
  await waitFor('the claim to be released in the background', async () => await redis.exists('sms-gateway:idempotency:billing:refused-1') === 0, 30_000)
  // This test's own connection can see the key gone before the gateway's has read the same answer.
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === 'released the idempotency key after the store came back'))
})
