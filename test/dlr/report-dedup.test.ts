import t from 'tap'
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
  const small = new ReportDeduplicator(60_000, 3)
  for (const id of ['a', 'b', 'c', 'd']) t.ok(small.firstSighting(id, 'sent'))
  t.ok(small.firstSighting('a', 'sent'), 'the oldest was forgotten to stay within the bound')
  t.notOk(small.firstSighting('d', 'sent'))
})

t.test('the window is exact, and expired pairs leave the memory', async (t) => {
  let now = 1_000
  const dedup = new ReportDeduplicator(100, 1_000, () => now)
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
  const dedup = new ReportDeduplicator(3_600_000, 1_000)
  for (let i = 0; i < 5_000; i++) dedup.firstSighting(`m${i}`, 'delivered')
  t.equal(dedup.size, 1_000)
  t.notOk(dedup.firstSighting('m4999', 'delivered'), 'the newest are kept')
  t.ok(dedup.firstSighting('m3999', 'delivered'), 'the oldest went first')
})

t.test('a sliding window over a long stream stays exact and small', async (t) => {
  let now = 0
  const dedup = new ReportDeduplicator(10, 1_000, () => now)
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
