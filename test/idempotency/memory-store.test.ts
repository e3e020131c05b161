import t from 'tap'
import { heapBytesOf, MemoryIdempotencyStore } from '../../src/idempotency/memory-store.js'

const answer = (body: string) => ({ statusCode: 200, contentType: 'application/json', body })
const HOUR = 3_600_000

t.test('a running send keeps its claim however many answers push the cache', async (t) => {
  let now = 1_000_000
  const store = new MemoryIdempotencyStore({ maxKeys: 100, maxBytes: 100 * 1024, now: () => now })
  t.same(await store.claim('client:running', 'fp', { runningMs: HOUR }), { state: 'claimed' })
  for (let i = 0; i < 1000; i++) {
    await store.claim(`client:other-${i}`, 'fp', { runningMs: HOUR })
    await store.complete(`client:other-${i}`, 'fp', answer('x'.repeat(2000)), HOUR)
    now += 10
  }
  t.same(await store.claim('client:running', 'fp', { runningMs: HOUR }), { state: 'in_flight', fingerprint: 'fp' }, 'a retry still gets 409')
  t.same(await store.claim('client:other-0', 'fp', { runningMs: HOUR }), { state: 'claimed' }, 'the oldest answers went (documented: bounded, oldest first)')
  t.same(await store.claim('client:other-999', 'fp', { runningMs: HOUR }), { state: 'done', fingerprint: 'fp', response: answer('x'.repeat(2000)) })
  await store.complete('client:running', 'fp', answer('done'), HOUR)
  t.same(await store.claim('client:running', 'fp', { runningMs: HOUR }), { state: 'done', fingerprint: 'fp', response: answer('done') })
})

t.test('a claim lapses after its TTL, is released only by its own fingerprint, and expired claims are swept', async (t) => {
  let now = 0
  const store = new MemoryIdempotencyStore({ maxKeys: 100, maxBytes: 1024 * 1024, now: () => now })
  await store.claim('k', 'fp1', { runningMs: 1000 })
  await store.release('k', 'another')
  t.same(await store.claim('k', 'fp2', { runningMs: 1000 }), { state: 'in_flight', fingerprint: 'fp1' }, 'another body cannot free it')
  now = 1000
  t.same(await store.claim('k', 'fp2', { runningMs: 1000 }), { state: 'claimed' }, 'a crashed request frees its key when the claim lapses')
  await store.release('k', 'fp2')
  t.same(await store.claim('k', 'fp3', { runningMs: 1000 }), { state: 'claimed' }, 'released')
  for (let i = 0; i < 5000; i++) await store.claim(`lapsing-${i}`, 'fp', { runningMs: 10 })
  now += 20
  // Sweeps come when the count doubles: at 8,192 claims here, which the live ones reach.
  for (let i = 0; i < 4000; i++) await store.claim(`live-${i}`, 'fp', { runningMs: 1000 })
  t.equal(store.claims, 4001, 'the 5,000 lapsed claims are gone; the live ones and k remain')
  t.same(await store.claim('live-0', 'fp', { runningMs: 1000 }), { state: 'in_flight', fingerprint: 'fp' }, 'live ones are kept')
})

t.test('an answer is replayed for its TTL', async (t) => {
  let now = 1000
  const store = new MemoryIdempotencyStore({ maxKeys: 100, maxBytes: 1024 * 1024, now: () => now })
  await store.claim('k', 'fp', { runningMs: 1000 })
  await store.complete('k', 'fp', answer('a'), 5000)
  now = 5999
  t.match(await store.claim('k', 'fp', { runningMs: 1000 }), { state: 'done' })
  now = 6001
  t.same(await store.claim('k', 'fp', { runningMs: 1000 }), { state: 'claimed' })
})

t.test('an answer pushed out while its TTL still runs is reported; one past its TTL is not', async (t) => {
  let now = 1_000_000
  let early = 0
  const store = new MemoryIdempotencyStore({ maxKeys: 100, maxBytes: 100 * 1024, now: () => now, onEarlyEviction: () => { early++ } })
  const fill = async (prefix: string, ttl: number) => {
    for (let i = 0; i < 100; i++) {
      await store.claim(`${prefix}-${i}`, 'fp', { runningMs: HOUR })
      await store.complete(`${prefix}-${i}`, 'fp', answer('x'), ttl)
    }
  }
  await fill('short', 1000)
  now += 2000
  await fill('long', HOUR)
  t.equal(early, 0, 'the 100 answers pushed out had expired')
  await fill('more', HOUR)
  t.equal(early, 100, 'the next 100 pushed out answers still within their TTL')
  t.same(await store.claim('long-0', 'fp', { runningMs: HOUR }), { state: 'claimed' }, 'which are gone: a retry would send again')
})

t.test('answers are weighed as V8 holds them: one character beyond Latin-1 makes a mostly ASCII answer count two bytes a character', async (t) => {
  t.equal(heapBytesOf('a'.repeat(1000)), 1000)
  t.equal(heapBytesOf('é'.repeat(1000)), 1000, 'Latin-1 is one byte a character, though two in UTF-8')
  t.equal(heapBytesOf(`${'a'.repeat(999)}ł`), 2000)
  const store = new MemoryIdempotencyStore({ maxKeys: 10, maxBytes: 10 * 1024, now: () => 1_000_000 })
  // 2,000 characters, 2,001 bytes in UTF-8 but 4,000 in the heap: two fit in 10 KiB, where UTF-8 fits four.
  for (let i = 0; i < 3; i++) {
    await store.claim(`e${i}`, 'fp', { runningMs: HOUR })
    await store.complete(`e${i}`, 'fp', answer(`${'a'.repeat(1999)}ł`), HOUR)
  }
  t.same(await store.claim('e0', 'fp', { runningMs: HOUR }), { state: 'claimed' }, 'the oldest went to make room')
  t.match(await store.claim('e2', 'fp', { runningMs: HOUR }), { state: 'done' })
})

t.test('answers are weighed in bytes: Polish text counts twice what its characters do', async (t) => {
  const store = new MemoryIdempotencyStore({ maxKeys: 10, maxBytes: 10 * 1024, now: () => 1_000_000 })
  // 2,000 characters, 4,000 bytes in UTF-8: two fit in 10 KiB, where counting characters fits four.
  for (let i = 0; i < 3; i++) {
    await store.claim(`k${i}`, 'fp', { runningMs: HOUR })
    await store.complete(`k${i}`, 'fp', answer('ą'.repeat(2000)), HOUR)
  }
  t.same(await store.claim('k0', 'fp', { runningMs: HOUR }), { state: 'claimed' }, 'the oldest went to make room')
  t.match(await store.claim('k2', 'fp', { runningMs: HOUR }), { state: 'done' })
})

/** A store of 100 KiB shared by clients (a key's text before its colon), on a clock each stored answer moves 1 ms. */
function sharedStore () {
  const clock = { now: 1_000_000, early: 0 }
  const ownerOf = (key: string) => key.slice(0, key.indexOf(':'))
  const store = new MemoryIdempotencyStore({ maxKeys: 1000, maxBytes: 100 * 1024, now: () => clock.now, ownerOf, onEarlyEviction: () => { clock.early++ } })
  const keep = async (key: string, body: string, ttl = HOUR) => {
    await store.claim(key, 'fp', { runningMs: HOUR })
    await store.complete(key, 'fp', answer(body), ttl)
    clock.now += 1
  }
  const isKept = async (key: string) => (await store.claim(key, 'fp', { runningMs: HOUR })).state === 'done'
  return { clock, keep, isKept }
}

t.test('one client\'s flood of answers pushes out its own, not another client\'s below its share', async (t) => {
  const { clock, keep, isKept } = sharedStore()
  for (let i = 0; i < 10; i++) await keep(`billing:k${i}`, 'b'.repeat(1000))
  for (let i = 0; i < 500; i++) await keep(`shop:flood-${i}`, 'x'.repeat(2000))
  for (let i = 0; i < 10; i++) t.ok(await isKept(`billing:k${i}`), `billing's answer ${i} is kept`)
  t.notOk(await isKept('shop:flood-0'), 'the flood\'s oldest went')
  // 100 KiB hold 10 of billing's (1,256 bytes each) and 39 of shop's (2,256): shop's 45 alone would overrun the bound.
  t.notOk(await isKept('shop:flood-460'), 'the two share one bound: shop keeps what billing leaves of it')
  t.ok(await isKept('shop:flood-461'))
  t.ok(await isKept('shop:flood-499'), 'its newest are kept')
  t.ok(clock.early > 400, `the answers pushed out are reported (${clock.early})`)

  // Once billing stores its share or more, it gives way in turn: the bound is shared, not split.
  for (let i = 0; i < 60; i++) await keep(`billing:big-${i}`, 'b'.repeat(2000))
  t.notOk(await isKept('billing:k0'), 'billing\'s own oldest went when billing outgrew its share')
  t.ok(await isKept('shop:flood-499'), 'shop\'s newest stayed')
})

t.test('a client storing its share or more evicts its own; one below it takes room from the client holding the most', async (t) => {
  const { keep, isKept } = sharedStore()
  // billing: 60 answers of 1,256 bytes (75 KB); the share of two clients is 51,200 bytes.
  for (let i = 0; i < 60; i++) await keep(`billing:k${i}`, 'b'.repeat(1000))
  for (let i = 0; i < 500; i++) await keep(`shop:flood-${i}`, 'x'.repeat(2000))
  const kept = []
  for (let i = 0; i < 60; i++) if (await isKept(`billing:k${i}`)) kept.push(i)
  t.same(kept, Array.from({ length: 42 }, (_, i) => 18 + i), 'billing keeps its newest 42 (52,752 bytes, its share or more): shop took room from it until shop held its share, then evicted its own')
})

t.test('expired answers make room before live ones are evicted', async (t) => {
  const { clock, keep, isKept } = sharedStore()
  for (let i = 0; i < 20; i++) await keep(`billing:old-${i}`, 'b'.repeat(2000), 1000)
  clock.now += 2000
  for (let i = 0; i < 28; i++) await keep(`shop:k${i}`, 'x'.repeat(2000))
  t.ok(await isKept('shop:k0'), 'shop\'s first live answer is kept: billing\'s expired ones went')
  t.equal(clock.early, 0, 'and no live answer was pushed out')
})
