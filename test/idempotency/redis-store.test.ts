import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { MemoryIdempotencyStore } from '../../src/idempotency/memory-store.js'
import { RedisIdempotencyStore } from '../../src/idempotency/redis-store.js'
import type { IdempotencyStore } from '../../src/idempotency/store.js'
import { startRedis } from '../servers.js'

const response = { statusCode: 200, contentType: 'application/json; charset=utf-8', body: '{"queued":1}' }

async function exerciseStore (t: Test, store: IdempotencyStore): Promise<void> {
  t.same(await store.claim('c:k1', 'fp1', { runningMs: 10_000 }), { state: 'claimed' })
  t.same(await store.claim('c:k1', 'fp2', { runningMs: 10_000 }), { state: 'in_flight', fingerprint: 'fp1' })
  await store.release('c:k1', 'fp2')
  t.same(await store.claim('c:k1', 'fp1', { runningMs: 10_000 }), { state: 'in_flight', fingerprint: 'fp1' }, 'another fingerprint cannot release a claim')
  await store.complete('c:k1', 'fp1', response, 10_000)
  t.same(await store.claim('c:k1', 'fp1', { runningMs: 10_000 }), { state: 'done', fingerprint: 'fp1', response })
  await store.release('c:k1', 'fp1')
  t.same(await store.claim('c:k1', 'fp1', { runningMs: 10_000 }), { state: 'done', fingerprint: 'fp1', response }, 'a finished key is never released')

  t.same(await store.claim('c:k2', 'fp', { runningMs: 10_000 }), { state: 'claimed' })
  await store.release('c:k2', 'fp')
  t.same(await store.claim('c:k2', 'fp', { runningMs: 10_000 }), { state: 'claimed' }, 'a released key can be claimed again')

  const claims = await Promise.all(Array.from({ length: 50 }, () => store.claim('c:race', 'fp', { runningMs: 10_000 })))
  t.equal(claims.filter((c) => c.state === 'claimed').length, 1, 'of 50 concurrent claims exactly one wins')

  t.same(await store.claim('c:short', 'fp', { runningMs: 50 }), { state: 'claimed' })
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same(await store.claim('c:short', 'fp', { runningMs: 50 }), { state: 'claimed' }, 'an abandoned claim expires')

  t.same(await store.claim('c:stopped', 'fp', { runningMs: 50, keptMs: 10_000, token: 'first' }), { state: 'claimed' })
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same(await store.claim('c:stopped', 'fp', { runningMs: 10_000, token: 'retry' }), { state: 'abandoned', fingerprint: 'fp' }, 'a claim past its running time is abandoned, and still holds the key')
  t.same(await store.claim('c:stopped', 'other', { runningMs: 10_000 }), { state: 'abandoned', fingerprint: 'fp' }, 'with the first body\'s fingerprint, for the 422 check')
  await store.release('c:stopped', 'fp', 'retry')
  t.same(await store.claim('c:stopped', 'fp', { runningMs: 10_000 }), { state: 'abandoned', fingerprint: 'fp' }, 'another request cannot release it')
  await store.complete('c:stopped', 'fp', response, 10_000)
  t.same(await store.claim('c:stopped', 'fp', { runningMs: 10_000 }), { state: 'done', fingerprint: 'fp', response }, 'an answer stored late replaces it')

  // A request outlives its claim, another request takes the key, then the first releases it.
  t.same(await store.claim('c:lapsed', 'fp', { runningMs: 50, token: 'first-request' }), { state: 'claimed' })
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same(await store.claim('c:lapsed', 'fp', { runningMs: 10_000, token: 'second-request' }), { state: 'claimed' })
  await store.release('c:lapsed', 'fp', 'first-request')
  t.same(await store.claim('c:lapsed', 'fp', { runningMs: 10_000, token: 'third-request' }), { state: 'in_flight', fingerprint: 'fp' }, 'a request releases only its own claim, never the one that took the key after it')
  await store.release('c:lapsed', 'fp', 'second-request')
  t.same(await store.claim('c:lapsed', 'fp', { runningMs: 10_000, token: 'third-request' }), { state: 'claimed' }, 'its own request does')
}

t.test('the Redis store against a real redis-server', async (t) => {
  const server = await startRedis(t)
  const redis = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500, retryStrategy: () => 100 })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  await new Promise((resolve) => redis.once('ready', resolve))
  const store = new RedisIdempotencyStore(redis, 120_000)
  await exerciseStore(t, store)
  t.ok(await redis.pttl('sms-gateway:idempotency:c:k1') > 0, 'keys carry a TTL')
  await store.claim('c:kept', 'fp', { runningMs: 1000, keptMs: 60_000 })
  t.ok(await redis.pttl('sms-gateway:idempotency:c:kept') > 50_000, 'a claim\'s key lives as long as it is kept, not only while it runs')
  await redis.set('sms-gateway:idempotency:c:older', JSON.stringify({ state: 'in_flight', fingerprint: 'fp', token: 't' }), 'PX', 10_000)
  t.same(await store.claim('c:older', 'fp', { runningMs: 1000 }), { state: 'in_flight', fingerprint: 'fp' }, 'a claim written without its running time (an earlier version) is in flight until it lapses')
  await store.release('c:older', 'fp', 't')
  t.equal(await redis.exists('sms-gateway:idempotency:c:older'), 0, 'and its own request releases it')
  await redis.set('sms-gateway:idempotency:c:junk', 'not json', 'PX', 10_000)
  await store.release('c:junk', 'fp', '')
  t.equal(await redis.exists('sms-gateway:idempotency:c:junk'), 1, 'a value that is not a claim is never released')

  const otherReplica = new RedisIdempotencyStore(redis, 120_000)
  t.same(await store.claim('c:mine', 'fp', { runningMs: 10_000, token: 'token-a' }), { state: 'claimed' })
  await otherReplica.release('c:mine', 'fp', 'token-b')
  t.same(await otherReplica.claim('c:mine', 'fp', { runningMs: 10_000, token: 'token-c' }), { state: 'in_flight', fingerprint: 'fp' }, 'another request\'s release, same body, leaves the claim')

  // A claim released before it reached Redis (its command late on a connection lost here) cannot take the key after.
  await store.release('c:late', 'fp', 'late-token')
  t.ok(await redis.pttl('sms-gateway:idempotency:c:late:released:late-token') > 110_000, 'the release remembers the token as long as a claim may last')
  await t.rejects(store.claim('c:late', 'fp', { runningMs: 10_000, token: 'late-token' }), { name: 'IdempotencyStoreError', message: /released already/ }, 'the late claim is refused')
  t.equal(await redis.exists('sms-gateway:idempotency:c:late'), 0, 'and the key stays free')
  t.same(await store.claim('c:late', 'fp', { runningMs: 10_000, token: 'retry-token' }), { state: 'claimed' }, 'for the retry, a request of its own')
  await store.release('c:late', 'fp', 'retry-token')
  t.equal(await redis.exists('sms-gateway:idempotency:c:late:released:retry-token'), 0, 'a claim found and released leaves no marker')
  t.same(await store.claim('c:late', 'fp', { runningMs: 10_000 }), { state: 'claimed' }, 'nor does a claim without a token meet one')

  await server.stop()
  await t.rejects(store.claim('c:k3', 'fp', { runningMs: 1000 }), { name: 'IdempotencyStoreError' }, 'an unreachable Redis is an error, never a claim')
  await t.rejects(store.complete('c:k3', 'fp', response, 1000), { name: 'IdempotencyStoreError' })
  await t.rejects(store.release('c:mine', 'fp', 'token-a'), { name: 'IdempotencyStoreError' })
})

t.test('the memory store behaves the same', async (t) => {
  await exerciseStore(t, new MemoryIdempotencyStore({ maxKeys: 1000 }))
})

t.test('the memory store keeps answers bounded by count and bytes, least recently used first', async (t) => {
  const store = new MemoryIdempotencyStore({ maxKeys: 100, maxBytes: 10_000 })
  for (let i = 0; i < 150; i++) {
    await store.claim(`k${i}`, 'fp', { runningMs: 60_000 })
    await store.complete(`k${i}`, 'fp', response, 60_000)
  }
  t.same(await store.claim('k0', 'other', { runningMs: 60_000 }), { state: 'claimed' }, 'the oldest answer was evicted')
  t.match(await store.claim('k149', 'other', { runningMs: 60_000 }), { state: 'done', fingerprint: 'fp' })
  await store.complete('big', 'fp', { ...response, body: 'x'.repeat(9_500) }, 60_000)
  t.same(await store.claim('k148', 'other', { runningMs: 60_000 }), { state: 'claimed' }, 'a large answer pushes out older ones')
  t.same(await store.claim('k0', 'fp', { runningMs: 60_000 }), { state: 'in_flight', fingerprint: 'other' }, 'claims are not answers: never evicted')
})
