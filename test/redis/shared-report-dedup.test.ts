import t, { type Test } from 'tap'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { ReportDeduplicator } from '../../src/dlr/report-dedup.js'
import { SharedReportDeduplicator } from '../../src/dlr/shared-report-dedup.js'
import { signDeliveryUrl } from '../../src/dlr/signing.js'
import { DLR_SECRET } from '../helper.js'
import { spawnGateway, startRedis, waitFor } from '../servers.js'

/** Like the gateway's own connection (src/plugins/redis.ts): commands fail at once while Redis is down. */
async function connect (t: Test, url: string): Promise<Redis> {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 200 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  await once(redis, 'ready')
  return redis
}

async function setCommands (redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats')
  return Number(/cmdstat_set:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

t.test('replicas sharing Redis count a (message, state) pair once between them, within the window', async (t) => {
  const redis = await startRedis(t)
  const failures: Error[] = []
  const replica = async (windowMs: number) => new SharedReportDeduplicator(await connect(t, redis.url), windowMs, new ReportDeduplicator(windowMs), (error) => failures.push(error))
  const observer = await connect(t, redis.url)
  const a = await replica(60_000)
  const b = await replica(60_000)

  t.equal(await a.firstSighting('m1', 'delivered'), true)
  t.equal(await b.firstSighting('m1', 'delivered'), false, 'the other replica does not count it again')
  t.equal(await b.firstSighting('m1', 'undelivered'), true, 'another state of the message counts')
  t.equal(await a.firstSighting('m1', 'undelivered'), false)
  t.equal(await a.firstSighting('x', 'unsent'), true)
  t.equal(await b.firstSighting('xun', 'sent'), true, 'the id and the state are kept apart: ("x", "unsent") is not ("xun", "sent")')

  const before = await setCommands(observer)
  t.equal(a.firstSighting('m1', 'delivered'), false, 'a repeat this replica has seen is answered from its memory, at once')
  t.equal(await setCommands(observer), before, 'without a round trip')

  // A window wide enough for two Redis round trips on a machine stalled for seconds, short enough to wait out.
  const short = await replica(4000)
  const other = await replica(4000)
  t.equal(await short.firstSighting('m2', 'sent'), true)
  t.equal(await other.firstSighting('m2', 'sent'), false)
  await sleep(4500)
  t.equal(await other.firstSighting('m2', 'sent'), true, 'after the window a repeat counts again, once')
  t.equal(await short.firstSighting('m2', 'sent'), false)
  t.same(failures, [])
})

t.test('while Redis cannot answer, the replica\'s own memory decides and the outage is reported once', async (t) => {
  const redis = await startRedis(t)
  const failures: Error[] = []
  const connection = await connect(t, redis.url)
  const dedup = new SharedReportDeduplicator(connection, 60_000, new ReportDeduplicator(60_000), (error) => failures.push(error))
  t.equal(await dedup.firstSighting('m1', 'delivered'), true)
  await redis.stop()
  t.equal(await dedup.firstSighting('m2', 'delivered'), true, 'a new report still counts: none is lost')
  t.equal(await dedup.firstSighting('m2', 'delivered'), false, 'its repeat on this replica does not')
  t.equal(await dedup.firstSighting('m1', 'delivered'), false, 'nor does one counted before the outage')
  t.equal(await dedup.firstSighting('m3', 'delivered'), true)
  t.equal(failures.length, 1, 'the outage is reported once, not per report')
})

t.test('two gateway processes sharing Redis: a report pushed to both is counted once', async (t) => {
  const redis = await startRedis(t)
  const env = { SERWERSMS_SIMULATOR: 'true', SERWERSMS_TOKEN: undefined, REDIS_URL: redis.url, PUBLIC_URL: 'https://gw.example.com', DLR_SECRET, LOG_LEVEL: 'warn' }
  const [a, b] = await Promise.all([spawnGateway(t, env), spawnGateway(t, env)])
  const query = new URL(signDeliveryUrl('https://gw.example.com', DLR_SECRET, {})
    .replace('#SMSID#', 'abc123').replace('#STAN#', 'delivered').replace('#DATA#', '2026-11-26 12:00:00').replace('#PRZYCZYNA#', '')).search
  const push = async (url: string, messageId = 'abc123') => {
    const response = await fetch(`${url}/dlr${query.replace('abc123', messageId)}`)
    return `${response.status} ${await response.text()}`
  }
  t.same([await push(a.url), await push(b.url), await push(b.url)], ['200 OK', '200 OK', '200 OK'], 'every push is answered OK')

  const counted = async (url: string, metric: string) => {
    const text = await (await fetch(`${url}/metrics`)).text()
    return [...text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*status="delivered"[^}]*\\})? (\\d+)$`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0)
  }
  t.equal(await counted(a.url, 'sms_gateway_delivery_reports_total') + await counted(b.url, 'sms_gateway_delivery_reports_total'), 1, 'counted on one replica only')
  t.equal(await counted(b.url, 'sms_gateway_delivery_reports_duplicate_total'), 2, 'the other replica saw two repeats')

  const countedOnA = await counted(a.url, 'sms_gateway_delivery_reports_total')
  await redis.stop()
  t.equal(await push(a.url, 'abc124'), '200 OK', 'with Redis gone a report is still taken')
  t.equal(await counted(a.url, 'sms_gateway_delivery_reports_total'), countedOnA + 1, 'and counted')
  // The process writes its log on its own time (a CI run read its output a moment too soon).
  const fallback = /repeated delivery reports are recognised per replica until it is back/
  await waitFor('the fallback\'s log line', () => fallback.test(a.output()), 5000)
  t.match(a.output(), fallback, 'and the fallback is logged')
})
