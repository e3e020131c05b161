import t from 'tap'
import fc from 'fast-check'
import { setTimeout as sleep } from 'node:timers/promises'
import { ReportDeduplicator } from '../../src/dlr/report-dedup.js'

t.test('a (message, state) pair counts once within the window', async (t) => {
  const dedup = new ReportDeduplicator(60_000)
  t.ok(dedup.firstSighting('m1', 'sent'))
  t.notOk(dedup.firstSighting('m1', 'sent'))
  t.ok(dedup.firstSighting('m1', 'delivered'), 'a new state of the same message counts')
  t.ok(dedup.firstSighting('m2', 'sent'))
})

t.test('the window and the size are bounded', async (t) => {
  const short = new ReportDeduplicator(30)
  t.ok(short.firstSighting('m1', 'sent'))
  await sleep(60)
  t.ok(short.firstSighting('m1', 'sent'), 'after the window a repeat counts again')
  const small = new ReportDeduplicator(60_000, { maxEntries: 3 })
  for (const id of ['a', 'b', 'c', 'd']) t.ok(small.firstSighting(id, 'sent'))
  t.ok(small.firstSighting('a', 'sent'), 'the oldest was forgotten to stay within the bound')
  t.notOk(small.firstSighting('d', 'sent'))
})

t.test('the window is exact, and expired pairs leave the memory', async (t) => {
  let now = 1_000
  const dedup = new ReportDeduplicator(100, { maxEntries: 1_000, clock: () => now })
  t.ok(dedup.firstSighting('m1', 'sent'))
  now += 50
  t.ok(dedup.firstSighting('m2', 'sent'))
  now += 49
  t.notOk(dedup.firstSighting('m1', 'sent'), 'a repeat 99 ms later is dropped')
  now += 1
  t.ok(dedup.firstSighting('m1', 'sent'), 'a repeat 100 ms later counts again')
  t.notOk(dedup.firstSighting('m2', 'sent'), 'm2 was counted 50 ms ago')
  now += 60
  t.notOk(dedup.firstSighting('m1', 'sent'), 'm1\'s window restarted when it counted again')
  t.ok(dedup.firstSighting('m3', 'sent'))
  t.equal(dedup.size, 2, 'm2 expired and was forgotten when m3 came')
  now += 1_000
  t.ok(dedup.firstSighting('m4', 'sent'))
  t.equal(dedup.size, 1, 'everything older than the window is gone')
})

t.test('a flood of new pairs stays within the bound', async (t) => {
  const dedup = new ReportDeduplicator(3_600_000, { maxEntries: 1_000 })
  for (let i = 0; i < 5_000; i++) dedup.firstSighting(`m${i}`, 'delivered')
  t.equal(dedup.size, 1_000)
  t.notOk(dedup.firstSighting('m4999', 'delivered'), 'the newest are kept')
  t.ok(dedup.firstSighting('m3999', 'delivered'), 'the oldest went first')
})

t.test('pairs forgotten while still inside the window are reported, those out of it are not', async (t) => {
  let now = 0
  const evictions: number[] = []
  const dedup = new ReportDeduplicator(100, { maxEntries: 3, clock: () => now, onEvicted: (pairs) => { evictions.push(pairs) } })
  for (const id of ['a', 'b', 'c']) t.ok(dedup.firstSighting(id, 'sent'))
  t.same(evictions, [], 'within the bound nothing is forgotten')
  now = 10
  t.ok(dedup.firstSighting('d', 'sent'))
  t.same(evictions, [1], 'a, still inside its window, made room for d')
  t.ok(dedup.firstSighting('a', 'sent'), 'so its repeat counts again')
  t.same(evictions, [1, 1])
  now = 200
  t.ok(dedup.firstSighting('e', 'sent'))
  t.same(evictions, [1, 1], 'pairs out of the window leave without a word')
  t.notOk(dedup.firstSighting('e', 'sent'), 'a repeat is no eviction either')
  t.same(evictions, [1, 1])
})

t.test('a sliding window over a long stream stays exact and small', async (t) => {
  let now = 0
  const dedup = new ReportDeduplicator(10, { maxEntries: 1_000, clock: () => now })
  let repeatsCaught = 0
  for (let i = 0; i < 20_000; i++) {
    now++
    if (!dedup.firstSighting(`m${i}`, 'delivered')) t.fail(`m${i} is new`)
    // The report of 9 ms ago is inside the window, the one of 10 ms ago just out of it.
    if (i >= 10) {
      if (!dedup.firstSighting(`m${i - 9}`, 'delivered')) repeatsCaught++
      if (i % 1000 === 0) t.ok(dedup.firstSighting(`m${i - 10}`, 'delivered'), 'out of the window counts again')
    }
  }
  t.equal(repeatsCaught, 20_000 - 10, 'every repeat inside the window was caught')
  t.ok(dedup.size <= 12, `only the window is remembered (${dedup.size})`)
})

/**
 * What the deduplicator must answer, kept the plain way: the time each pair was last counted,
 * and the counted pairs in order, the oldest forgotten first when out of the window or over the
 * bound.
 */
class ReferenceDeduplicator {
  readonly countedAt = new Map<string, number>()
  readonly order: Array<{ key: string, time: number }> = []
  constructor (readonly windowMs: number, readonly maxEntries: number) {}

  firstSighting (messageId: string, state: string, now: number): boolean {
    const key = JSON.stringify([messageId, state])
    const countedAt = this.countedAt.get(key)
    if (countedAt !== undefined && now - countedAt < this.windowMs) return false
    while (this.order.length > 0 && (this.countedAt.size >= this.maxEntries || now - this.order[0]!.time >= this.windowMs)) {
      const oldest = this.order.shift()!
      if (this.countedAt.get(oldest.key) === oldest.time) this.countedAt.delete(oldest.key)
    }
    this.countedAt.set(key, now)
    this.order.push({ key, time: now })
    return true
  }
}

t.test('answers as the plain model does, whatever the order of reports, the clock, window and bound', async (t) => {
  const report = fc.record({
    id: fc.oneof(fc.integer({ min: 0, max: 30 }).map((n) => `m${n}`), fc.string({ maxLength: 4 })),
    state: fc.constantFrom('delivered', 'undelivered', 'sent', ''),
    advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 }))
  })
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 25 }), fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.array(report, { maxLength: 300 }),
    (windowMs, maxEntries, seed, reports) => {
      let now = 0
      const dedup = new ReportDeduplicator(windowMs, { maxEntries, clock: () => now, seed })
      const model = new ReferenceDeduplicator(windowMs, maxEntries)
      for (const { id, state, advanceMs } of reports) {
        now += advanceMs
        const expected = model.firstSighting(id, state, now)
        if (dedup.firstSighting(id, state) !== expected) return false
        if (dedup.size !== model.countedAt.size) return false
      }
      return true
    }), { numRuns: 300 })
})

t.test('growing past its first capacity, and sliding at the bound, it forgets nothing early and keeps nothing late', async (t) => {
  let now = 0
  const dedup = new ReportDeduplicator(5_000, { maxEntries: 3_000, clock: () => now })
  const model = new ReferenceDeduplicator(5_000, 3_000)
  let mismatches = 0
  for (let i = 0; i < 40_000; i++) {
    now += i % 7 === 0 ? 1 : 0
    // New pairs mostly, and repeats from just inside and just outside what is remembered.
    const id = i % 5 === 0 ? `m${Math.max(0, i - 2_990)}` : i % 5 === 1 ? `m${Math.max(0, i - 3_010)}` : `m${i}`
    if (dedup.firstSighting(id, 'delivered') !== model.firstSighting(id, 'delivered', now)) mismatches++
    if (dedup.size !== model.countedAt.size) mismatches++
  }
  t.equal(mismatches, 0)
  t.equal(dedup.size, 3_000)
})

t.test('the pair is what counts: the same text split differently is another pair', async (t) => {
  const dedup = new ReportDeduplicator(60_000)
  t.ok(dedup.firstSighting('ab', 'c'))
  t.ok(dedup.firstSighting('a', 'bc'))
  t.ok(dedup.firstSighting('abc', ''))
  t.notOk(dedup.firstSighting('ab', 'c'))
})

t.test('a clock that goes back (it must not, but) neither loses a pair nor breaks the memory', async (t) => {
  let now = 200
  const dedup = new ReportDeduplicator(10, { maxEntries: 1_000, clock: () => now })
  t.ok(dedup.firstSighting('x', 'sent'))
  now = 100
  t.ok(dedup.firstSighting('a', 'sent'))
  now = 111
  // 'a' is out of its window, but 'x' ahead of it in age order is not, so its old entry stays.
  t.ok(dedup.firstSighting('a', 'sent'), 'out of the window, it counts again')
  t.notOk(dedup.firstSighting('a', 'sent'), 'and is remembered from now')
  now = 300
  t.ok(dedup.firstSighting('y', 'sent'), 'forgetting the stale entry of \'a\' leaves the newer one alone')
  t.ok(dedup.firstSighting('a', 'sent'), 'which the window then lets go')
  t.notOk(dedup.firstSighting('y', 'sent'))
  t.equal(dedup.size, 2)
})
