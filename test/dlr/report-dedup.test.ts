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
