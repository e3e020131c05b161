import t from 'tap'
import { startSimulator } from '../../src/simulator/simulator.js'
import { authHeader, UPSTREAM_TOKEN } from '../helper.js'
import { spawnGateway, startRedis } from '../servers.js'

const order = { to: '+48500600700', text: 'Your code: 4711' }

async function send (url: string, key?: string) {
  const response = await fetch(`${url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeader(), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(order)
  })
  return { status: response.status, replayed: response.headers.get('idempotent-replayed'), body: await response.json() as Record<string, unknown> }
}

t.test('two gateway processes sharing Redis: one key sends once, limits are shared, Redis down fails closed', async (t) => {
  const redis = await startRedis(t)
  const simulator = await startSimulator({ credentials: { token: UPSTREAM_TOKEN }, deliveryReports: false, latencyMs: 200, logger: false })
  t.teardown(() => simulator.close())
  const env = { SERWERSMS_API_URL: simulator.url, SERWERSMS_TIMEOUT_MS: '10000', REDIS_URL: redis.url, RATE_LIMIT_MAX: '6', RATE_LIMIT_WINDOW: '1 minute', LOG_LEVEL: 'warn' }
  const [a, b] = await Promise.all([spawnGateway(t, env), spawnGateway(t, env)])

  t.match(await (await fetch(`${a.url}/readyz`)).json(), { idempotencyStore: 'redis' })

  // The same key at the same moment on both replicas: exactly one wins the claim. The provider takes
  // 2 s, so the loser nearly always arrives while the winner's send is in flight and gets 409; on a
  // machine slow enough that it arrives after, it gets the stored answer. Either way: one send.
  simulator.setLatency(2000)
  const [first, second] = await Promise.all([send(a.url, 'invoice-77'), send(b.url, 'invoice-77')])
  simulator.setLatency(200)
  const fresh = [first, second].filter((answer) => answer.status === 200 && answer.replayed === null)
  t.equal(fresh.length, 1, 'one replica sent')
  const winner = fresh[0] ?? first
  const loser = winner === first ? second : first
  if (loser.status === 200) t.comment('the second request came after the first had finished (a slow machine): replayed, not 409')
  t.ok(loser.status === 409 || (loser.status === 200 && loser.replayed === 'true'), `the other is refused while in flight or replayed (${loser.status})`)
  t.equal(simulator.stats.sendRequests, 1, 'sent once')
  const replay = await send(b.url, 'invoice-77')
  t.equal(replay.status, 200)
  t.equal(replay.replayed, 'true', 'the other replica replays the stored answer')
  t.same(replay.body, winner.body)
  t.equal(simulator.stats.sendRequests, 1)

  // Three requests so far on the shared budget of six.
  t.equal((await send(a.url)).status, 200)
  t.equal((await send(b.url)).status, 200)
  t.equal((await send(a.url)).status, 200)
  const limited = await send(b.url)
  t.equal(limited.status, 429, 'the budget is shared between replicas')
  t.equal(limited.body.code, 'GW_RATE_LIMITED')
  t.equal(simulator.stats.sendRequests, 4)

  await redis.stop()
  const keyed = await send(a.url, 'invoice-78')
  t.equal(keyed.status, 503, 'a keyed send is refused while its key cannot be checked')
  t.equal(keyed.body.code, 'GW_IDEMPOTENCY_STORE_UNAVAILABLE')
  t.equal(simulator.stats.sendRequests, 4, 'and nothing was sent')
  const unkeyed = await send(a.url)
  t.equal(unkeyed.status, 200, 'unkeyed sends go ahead (rate limits counted by the replica alone)')
  t.equal(simulator.stats.sendRequests, 5)
  t.match(a.output(), /redis/i, 'the outage is logged')
})
