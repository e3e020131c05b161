import t from 'tap'
import { authHeader, freePort, startGateway } from '../helper.js'
import { startRedis, waitFor } from '../servers.js'

const send = async (url: string, key?: string) => fetch(`${url}/sms`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...authHeader(), ...(key === undefined ? {} : { 'idempotency-key': key }) },
  body: JSON.stringify({ to: '+48500600700', text: 'x' })
})

t.test('the gateway follows Redis going away and coming back', async (t) => {
  const redis = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url } })
  t.match(await (await fetch(`${gw.url}/readyz`)).json(), { idempotencyStore: 'redis' })
  t.equal((await send(gw.url, 'a1')).status, 200)
  t.equal((await send(gw.url, 'a1')).headers.get('idempotent-replayed'), 'true')

  await redis.stop()
  await waitFor('the outage to be noticed', async () => gw.logs.entries.some((e) => e.msg === 'redis connection failed'))
  t.equal((await send(gw.url, 'a2')).status, 503)
  t.equal((await send(gw.url)).status, 200)

  const again = await startRedis(t, redis.port)
  await waitFor('the reconnection', async () => gw.logs.entries.some((e) => e.msg === 'redis connection restored'))
  t.equal((await send(gw.url, 'a2')).status, 200, 'keyed sends work again once Redis is back')
  await again.stop()
})

t.test('a gateway whose Redis is down at start still starts and fails keyed sends closed', async (t) => {
  const port = await freePort()
  const gw = await startGateway(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })
  t.ok(gw.logs.entries.some((e) => e.msg === 'redis unreachable at start; keyed requests will be refused until it is back'))
  const keyed = await send(gw.url, 'k')
  t.equal(keyed.status, 503)
  t.match(await keyed.json(), { code: 'GW_IDEMPOTENCY_STORE_UNAVAILABLE' })
  t.equal(keyed.headers.get('retry-after'), '5')
  t.equal((await send(gw.url)).status, 200)
  t.equal(gw.simulator.stats.sendRequests, 1)
})
