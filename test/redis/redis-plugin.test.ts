import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { DATABASE_REFUSED } from '../../src/plugins/redis.js'
import { authHeader, freePort, startGateway } from '../helper.js'
import { NO_CHILD_COVERAGE, NODE_WITHOUT_TAP_HOOKS, startRedis, waitFor } from '../servers.js'

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
  const problem = await keyed.json() as { code: string, detail: string }
  t.equal(problem.code, 'GW_IDEMPOTENCY_STORE_UNAVAILABLE')
  t.match(problem.detail, /this request sent nothing\. An earlier request with this key may have sent: retry later with the same key, never without it/)
  t.notMatch(problem.detail, /or without a key/, 'a retry without the key could send again what an earlier attempt sent')
  t.equal(keyed.headers.get('retry-after'), '5')
  t.equal((await send(gw.url)).status, 200)
  t.equal(gw.simulator.stats.sendRequests, 1)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /\nsms_gateway_redis_evicts_keys -1\n/, 'whether Redis may evict keys is not known before it is reached: not 0, "does not"')
})

t.test('a Redis that refuses the database REDIS_URL names is not used in database 0 instead', async (t) => {
  const redis = await startRedis(t)
  await t.rejects(startGateway(t, { env: { REDIS_URL: `redis://127.0.0.1:${redis.port}/16` } }), { name: 'ConfigError', message: /^REDIS_URL names database 16, which Redis refused/ }, 'at start: the start stops (exit 78 from the process)')
  await t.rejects(startGateway(t, { env: { REDIS_URL: `redis://127.0.0.1:${redis.port}?db=17` } }), { name: 'ConfigError', message: /^REDIS_URL names database 17,/ }, 'named as a query parameter too')

  // Later, at a reconnection: a Redis restarted with fewer databases.
  const gw = await startGateway(t, { env: { REDIS_URL: `redis://127.0.0.1:${redis.port}/5` } })
  t.equal((await send(gw.url, 'd1')).status, 200)
  await redis.stop()
  const fewer = await startRedis(t, redis.port, ['--save', '', '--appendonly', 'no', '--databases', '4'])
  await waitFor('the refusal to be noticed', async () => gw.logs.entries.some((e) => e.msg === DATABASE_REFUSED))
  t.match(gw.logs.entries.find((e) => e.msg === DATABASE_REFUSED), { level: 50, database: 5, err: { message: 'ERR DB index is out of range' } })
  // Long enough for ioredis to have reconnected a few times (and gone on in database 0, before).
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal((await send(gw.url, 'd2')).status, 503, 'keyed sends are refused, as while Redis is down')
  t.equal((await send(gw.url)).status, 200, 'unkeyed ones go ahead')
  const { Redis } = await import('ioredis')
  const admin = new Redis(`redis://127.0.0.1:${redis.port}/0`)
  t.teardown(() => admin.disconnect())
  t.same(await admin.keys('*'), [], 'nothing was written to database 0')
  t.notOk(gw.logs.entries.some((e) => e.msg === 'redis connection restored'), 'the connection is not said to be back')
  await fewer.stop()

  const again = await startRedis(t, redis.port)
  await waitFor('the reconnection', async () => gw.logs.entries.some((e) => e.msg === 'redis connection restored'))
  t.equal((await send(gw.url, 'd2')).status, 200, 'keyed sends work again once Redis takes the database')
  await again.stop()
})

t.test('credentials Redis refuses stop the start, whatever the database (a password missing is not the database\'s fault)', async (t) => {
  const redis = await startRedis(t)
  const { Redis } = await import('ioredis')
  const admin = new Redis(redis.url)
  await admin.config('SET', 'requirepass', 'S3cret-pw')
  admin.disconnect()
  for (const [url, words] of [[`redis://127.0.0.1:${redis.port}/5`, /NOAUTH/], [`redis://127.0.0.1:${redis.port}/0`, /NOAUTH/], [`redis://:wrong-pw@127.0.0.1:${redis.port}/0`, /WRONGPASS/]] as const) {
    const refused = await startGateway(t, { env: { REDIS_URL: url } }).then(() => undefined, (error: Error) => error)
    t.match(refused, { name: 'ConfigError', message: /^REDIS_URL's credentials were refused by Redis \(/ }, url)
    t.match(refused?.message, words)
    t.notMatch(refused?.message, /wrong-pw|S3cret/, 'no password echoed')
  }
  t.ok(await startGateway(t, { env: { REDIS_URL: `redis://:S3cret-pw@127.0.0.1:${redis.port}/5` } }), 'the right one starts')
})

/**
 * A keyed send whose answer Redis refuses to store: writes are refused (maxmemory 1) once the key
 * is claimed and the send is on its way. Returns its answer and a way to let Redis take writes again.
 */
async function sendWhileRedisRefusesWrites (t: Test, key: string) {
  const redis = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url }, simulator: { latencyMs: 400 } })
  const { Redis } = await import('ioredis')
  const admin = new Redis(redis.url)
  t.teardown(() => admin.disconnect())
  const pending = send(gw.url, key)
  // The key is claimed before the send goes out: once it is at the provider, Redis may refuse writes.
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  await admin.config('SET', 'maxmemory', '1')
  const answer = await pending
  return { gw, admin, answer, acceptWrites: async () => { await admin.config('SET', 'maxmemory', '0') } }
}

t.test('an answer Redis refuses to store is stored once it takes it, so a retry is replayed, not sent again', async (t) => {
  const { gw, answer, acceptWrites } = await sendWhileRedisRefusesWrites(t, 'stored-late')
  t.equal(answer.status, 200, 'the send happened and its answer goes out')
  const firstBody = await answer.text()
  t.ok(gw.logs.entries.some((e) => e.msg === 'could not store the idempotent response; retrying in the background'))
  const meanwhile = await send(gw.url, 'stored-late')
  t.equal(meanwhile.status, 200, 'meanwhile this gateway replays the answer it holds, though Redis refuses writes')
  t.equal(meanwhile.headers.get('idempotent-replayed'), 'true')
  t.equal(await meanwhile.text(), firstBody)
  await acceptWrites()
  await waitFor('the answer to be stored', async () => gw.logs.entries.some((e) => e.msg === 'stored the idempotent response after the store came back'))
  const retry = await send(gw.url, 'stored-late')
  t.equal(retry.status, 200)
  t.equal(retry.headers.get('idempotent-replayed'), 'true')
  t.equal(await retry.text(), firstBody)
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
})

t.test('closing makes one last attempt to store an answer still waiting', async (t) => {
  const { gw, admin, answer, acceptWrites } = await sendWhileRedisRefusesWrites(t, 'closing-key')
  t.equal(answer.status, 200)
  await acceptWrites()
  await gw.app.close()
  const stored = JSON.parse(await admin.get('sms-gateway:idempotency:billing:closing-key') ?? '{}') as { state?: string }
  t.equal(stored.state, 'done', 'stored on the way out, before the first background retry was due')
})

t.test('a claim that timed out on the gateway\'s side but reached Redis late is undone behind it', async (t) => {
  const redis = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url } })
  const { Redis } = await import('ioredis')
  const admin = new Redis(redis.url)
  t.teardown(() => admin.disconnect())
  // Writes wait for 2.5 s, past the gateway's 1-s command timeout; Redis still carries them out after.
  await admin.call('CLIENT', 'PAUSE', '2500', 'WRITE')
  const first = await send(gw.url, 'paused')
  t.equal(first.status, 503, 'the claim timed out: nothing was sent, retry with the same key')
  // Not a guess at how long that takes: wait until Redis has carried out both the late claim (the
  // only SET so far) and the release queued behind it (its script's GET, the only GET so far). The
  // key's absence then says the claim was undone, not that it had not arrived yet.
  const calls = async (command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await admin.info('commandstats'))?.[1] ?? 0)
  await waitFor('Redis to carry out the late claim (SET) and its release (GET, then DEL if still the same claim)', async () => await calls('set') >= 1 && await calls('get') >= 1)
  t.equal(await admin.exists('sms-gateway:idempotency:billing:paused'), 0, 'the late claim was undone')
  const retry = await send(gw.url, 'paused')
  t.equal(retry.status, 200, 'the retry goes ahead instead of a 409 until the claim lapses')
  t.equal(gw.simulator.stats.sendRequests, 1)
})

/**
 * The Redis client is loaded only when Redis is configured: its modules are a sixth of what a start
 * evaluates besides fastify, enough to grow V8's young generation once more, ~8 MiB an idle gateway
 * keeps (bench/README.md, twenty-fourth round). In a process of its own, so no other test loaded them.
 */
async function ioredisModulesLoaded (env: Record<string, string>): Promise<number> {
  const program = `
    import { createRequire } from 'node:module'
    import Fastify from 'fastify'
    import app from './src/app.ts'
    import { testConfig } from './test/helper.ts'
    const server = Fastify()
    await server.register(app, { config: testConfig(${JSON.stringify(env)}) })
    await server.ready()
    process.stdout.write(String(Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('/node_modules/ioredis/')).length))
    await server.close()
  `
  // Without tap's hooks and coverage: a child loading src/ through tsx would garble the report (test/servers.ts).
  const [command, ...nodeArgs] = NODE_WITHOUT_TAP_HOOKS as [string, ...string[]]
  const { stdout } = await promisify(execFile)(command, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', program], { env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE } })
  return Number(stdout)
}

t.test('without REDIS_URL the gateway never loads the Redis client; with it, it does', async (t) => {
  t.equal(await ioredisModulesLoaded({}), 0, 'none of ioredis\'s modules without Redis')
  const redis = await startRedis(t)
  t.ok(await ioredisModulesLoaded({ REDIS_URL: redis.url }) > 0, 'the control: with Redis, the same count sees them')
})
