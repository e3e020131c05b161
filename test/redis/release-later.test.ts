import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { sendKeyed, startGateway } from '../helper.js'
import { redisDataDir, startRedis, waitFor } from '../servers.js'

/** Everything Redis appended under its data folder (Redis 7 keeps the file in a folder of its own). */
function appendOnlyText (dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(join(entry.parentPath ?? entry.path, entry.name), 'latin1'))
    .join('')
}

t.test('a key whose request provably sent nothing is released once Redis is back, not left to say "outcome unknown"', async (t) => {
  // Redis keeps its data over the restart.
  const dataDir = redisDataDir(t)
  const args = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir]
  const redisServer = await startRedis(t, undefined, args)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url, SERWERSMS_TIMEOUT_MS: '10000' }, simulator: { latencyMs: 1500 } })
  // The provider refuses the request: nothing is sent, so the key must be freed.
  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3102, message: 'Message too long' } })
  const first = sendKeyed(gw.url, 'refused-1')
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  await redisServer.stop()
  const answer = await first
  t.equal(answer.status, 422, `refused, nothing sent: ${await answer.text()}`)
  // Read from the append-only file while Redis is down: once it is back, the gateway may release
  // the claim before this test's own connection could look.
  t.ok(appendOnlyText(dataDir).includes('sms-gateway:idempotency:billing:refused-1'), 'the claim is in what Redis loads again')
  t.notOk(appendOnlyText(dataDir).includes('DEL'), 'and was not released before Redis went down')
  await startRedis(t, redisServer.port, args)
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  await waitFor('the claim to be released in the background', async () => await redis.exists('sms-gateway:idempotency:billing:refused-1') === 0, 30_000)
  // This test's own connection can see the key gone before the gateway's has read the same answer.
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === 'released the idempotency key after the store came back'))
})
