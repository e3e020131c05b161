import t from 'tap'
import { authHeader, startGateway } from '../helper.js'
import { startRedis, waitFor } from '../servers.js'

const send = async (url: string) => await fetch(`${url}/sms`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...authHeader() },
  body: JSON.stringify({ to: '+48500600700', text: 'x' })
})

const FALLING_BACK = 'rate limits counted by this replica alone: Redis cannot count them'

t.test('while Redis cannot count them, rate limits are counted by the replica alone, said once and counted; then in Redis again', async (t) => {
  const redis = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1 hour' } })
  const first = await send(gw.url)
  t.equal(first.status, 200)
  t.equal(first.headers.get('ratelimit-remaining'), '1', 'counted in Redis')

  await redis.stop()
  await waitFor('the outage to be noticed', async () => gw.logs.entries.some((e) => e.msg === 'redis connection failed'))
  const during = [await send(gw.url), await send(gw.url), await send(gw.url)]
  t.same(during.map((answer) => answer.status), [200, 200, 429], 'the limit still holds, counted here (skipped before: every request went through)')
  t.same(during.map((answer) => answer.headers.get('ratelimit-remaining')), ['1', '0', '0'], 'and the headers tell the truth')
  t.equal(gw.logs.entries.filter((e) => e.msg === FALLING_BACK).length, 1, 'said once for the outage')
  t.match(await (await fetch(`${gw.url}/metrics`)).text(), /\nsms_gateway_rate_limit_fallbacks_total 3\n/)

  const again = await startRedis(t, redis.port)
  await waitFor('the reconnection', async () => gw.logs.entries.some((e) => e.msg === 'redis connection restored'))
  const after = await send(gw.url)
  t.equal(after.status, 200)
  // This Redis came back empty (it keeps nothing on disk): its count starts again.
  t.equal(after.headers.get('ratelimit-remaining'), '1', 'counted in Redis again, not here (here it was over the limit)')
  t.ok(gw.logs.entries.some((e) => e.msg === 'rate limits counted in Redis again'))
  await again.stop()
})
