import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { authHeader, startGateway, type GatewayUnderTest } from '../helper.js'
import { readYaml } from '../deploy/helpers.js'
import { startRedis, waitFor } from '../servers.js'

const send = async (gw: GatewayUnderTest, key: string, text = 'Pay 10 PLN') => fetch(`${gw.url}/sms`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...authHeader(), 'idempotency-key': key },
  body: JSON.stringify({ to: '+48500600700', text })
})

/** The settings docker-compose.yml runs its Redis with. */
function composeRedisArgs (): string[] {
  const compose = readYaml<{ services: Record<string, { command?: string[] }> }>('docker-compose.yml')
  const [program, ...args] = compose.services.redis?.command ?? []
  if (program !== 'redis-server') throw new Error('docker-compose.yml runs no redis-server')
  return args
}

t.test('Redis as docker-compose.yml runs it keeps a running send\'s claim through a crash and restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-gateway-redis-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const args = [...composeRedisArgs(), '--dir', dir]
  const redis = await startRedis(t, undefined, args)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url, SERWERSMS_TIMEOUT_MS: '10000' }, simulator: { latencyMs: 3000 } })
  const first = send(gw, 'crash-1')
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  await redis.stop()
  await startRedis(t, redis.port, args)
  // A control character is refused after the key is claimed: 400 once Redis answers again, and nothing sent.
  await waitFor('the gateway to reach Redis again', async () => (await send(gw, `probe-${Date.now()}`, 'x\u0001')).status === 400)
  t.equal((await send(gw, 'crash-1')).status, 409, 'the retry finds the claim, not an empty Redis')
  t.equal((await first).status, 200)
  const replay = await send(gw, 'crash-1')
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  t.equal(gw.simulator.received.length, 1, 'sent once')
})
