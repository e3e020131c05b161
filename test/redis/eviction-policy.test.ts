import { Redis } from 'ioredis'
import t from 'tap'
import { evictionOf, EVICTION_UNREAD, EVICTS_KEYS } from '../../src/plugins/redis.js'
import { sendKeyed, startGateway, type GatewayUnderTest } from '../helper.js'
import { startRedis, waitFor } from '../servers.js'

const MAXMEMORY = 100 * 1024 * 1024
const ERROR_LEVEL = 50
const WARN_LEVEL = 40

const metrics = async (gw: GatewayUnderTest) => await (await fetch(`${gw.url}/metrics`)).text()
const readiness = async (gw: GatewayUnderTest) => await (await fetch(`${gw.url}/readyz`)).json() as { status: string, redis?: Record<string, unknown> }

/** Cuts the gateway's Redis connection and waits until it has connected again and a keyed send goes through. */
async function reconnect (gw: GatewayUnderTest, admin: Redis, key: string): Promise<void> {
  const before = Number(await admin.client('ID'))
  await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  const clientIds = async () => String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')).match(/(?<=^id=)\d+/gm)?.map(Number) ?? []
  await waitFor('the gateway to connect again', async () => (await clientIds()).some((id) => id > before))
  // Its first command on the new connection is INFO: once a keyed send goes through, INFO's answer was read.
  await waitFor('a keyed send to go through', async () => (await sendKeyed(gw.url, key)).status === 200)
}

t.test('an evicting Redis is logged as an error and shown in /readyz at every connection, without making the gateway unready', async (t) => {
  const redisServer = await startRedis(t)
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())
  // A managed Redis's default: idempotency keys (all have an expiry) are the first to go.
  await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
  await admin.config('SET', 'maxmemory', String(MAXMEMORY))
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  const logged = () => gw.logs.entries.filter((e) => e.msg === EVICTS_KEYS)

  t.match(logged(), [{ level: ERROR_LEVEL, maxmemory: MAXMEMORY, maxmemoryPolicy: 'volatile-lru' }], 'logged at start')
  t.match(await readiness(gw), { status: 'ready', redis: { evictsKeys: true, maxmemory: MAXMEMORY, maxmemoryPolicy: 'volatile-lru' } })
  t.match(await metrics(gw), /\nsms_gateway_redis_evicts_keys 1\n/, 'and in its gauge, for the alert')

  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await reconnect(gw, admin, 'after-noeviction')
  t.same((await readiness(gw)).redis, { evictsKeys: false, maxmemory: MAXMEMORY, maxmemoryPolicy: 'noeviction' }, 'read again at the new connection')
  t.match(await metrics(gw), /\nsms_gateway_redis_evicts_keys 0\n/)

  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  await admin.config('SET', 'maxmemory', '0')
  await reconnect(gw, admin, 'after-no-maxmemory')
  t.same((await readiness(gw)).redis, { evictsKeys: false, maxmemory: 0, maxmemoryPolicy: 'allkeys-lru' }, 'without maxmemory nothing is evicted')
  t.equal(logged().length, 1, 'neither logged')

  await admin.config('SET', 'maxmemory', String(MAXMEMORY))
  await reconnect(gw, admin, 'after-maxmemory-again')
  t.equal(logged().length, 2, 'logged again when a connection finds Redis evicting')
})

t.test('a Redis as started by default (noeviction, no maxmemory) is not logged', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  t.same((await readiness(gw)).redis, { evictsKeys: false, maxmemory: 0, maxmemoryPolicy: 'noeviction' })
  t.notOk(gw.logs.entries.some((e) => e.msg === EVICTS_KEYS || e.msg === EVICTION_UNREAD))
})

t.test('a Redis that refuses INFO is said once, shown as not known, and used as before', async (t) => {
  const redisServer = await startRedis(t)
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())
  // The test's own user keeps every right; the gateway's (default) may not run INFO.
  await admin.acl('SETUSER', 'admin', 'on', '>admin', '~*', '&*', '+@all')
  await admin.auth('admin', 'admin')
  await admin.acl('SETUSER', 'default', '-info')
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  const said = () => gw.logs.entries.filter((e) => e.msg === EVICTION_UNREAD)

  t.match(said(), [{ level: WARN_LEVEL, err: { message: /NOPERM/ } }])
  t.same((await readiness(gw)).redis, {}, 'not known')
  t.match(await metrics(gw), /\nsms_gateway_redis_evicts_keys -1\n/)
  t.equal((await sendKeyed(gw.url, 'info-refused')).status, 200)
  await reconnect(gw, admin, 'info-refused-again')
  t.equal(said().length, 1, 'not said again at the next connection')
})

t.test('INFO memory is read for the two settings, and nothing else is made up', async (t) => {
  const info = (policy: string, maxmemory: string) => `# Memory\r\nused_memory:1000\r\nmaxmemory:${maxmemory}\r\nmaxmemory_human:100.00M\r\nmaxmemory_policy:${policy}\r\n`
  t.same(evictionOf(info('volatile-lru', String(MAXMEMORY))), { evictsKeys: true, maxmemory: MAXMEMORY, maxmemoryPolicy: 'volatile-lru' })
  t.same(evictionOf(info('noeviction', String(MAXMEMORY))), { evictsKeys: false, maxmemory: MAXMEMORY, maxmemoryPolicy: 'noeviction' })
  t.same(evictionOf(info('allkeys-lfu', '0')), { evictsKeys: false, maxmemory: 0, maxmemoryPolicy: 'allkeys-lfu' })
  t.same(evictionOf('# Memory\r\nused_memory:1000\r\n'), {}, 'a server that does not tell')
  t.same(evictionOf(info('volatile-lru', 'lots')), {}, 'a maxmemory that is no number')
})
