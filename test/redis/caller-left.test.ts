import t from 'tap'
import { openConnections, sendKeyed, startGateway } from '../helper.js'
import { startRedisProxy } from '../redis-proxy.js'
import { startRedis, waitFor } from '../servers.js'

t.test('a keyed send whose caller hangs up while its answer is stored is still logged and timed', async (t) => {
  const redisServer = await startRedis(t)
  const proxy = await startRedisProxy(t, redisServer.port)
  const gw = await startGateway(t, { env: { REDIS_URL: proxy.url }, simulator: { latencyMs: 300 } })
  const caller = new AbortController()
  sendKeyed(gw.url, 'left-while-storing', { signal: caller.signal }).catch(() => {})
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  // The claim is taken; the next command naming the key stores the answer, and Redis's answer to it is held back.
  proxy.interceptAnswerTo('sms-gateway:idempotency:billing:left-while-storing', { delayMs: 600 })
  await waitFor('the answer to be on its way to Redis', () => proxy.intercepted() === 1)
  caller.abort()
  await waitFor('the gateway to see the caller go', async () => await openConnections(gw) === 0)

  await waitFor('the request\'s line', () => gw.logs.entries.some((e) => e.route === '/sms'))
  t.match(gw.logs.entries.find((e) => e.route === '/sms'), { level: 40, statusCode: 200, queued: 1, callerLeft: true })
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /sms_gateway_http_request_duration_seconds_count\{method="POST",route="\/sms",status_code="200"\} 1\n/, 'timed in the HTTP histogram')
  t.match(metrics, /sms_gateway_messages_total\{status="queued",client="billing"\} 1\n/, 'the send counted once')
})
