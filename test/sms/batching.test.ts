import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { mapWithConcurrency, splitIntoBatches } from '../../src/sms/batching.js'

t.test('splitIntoBatches', async (t) => {
  t.same(splitIntoBatches(0, 100), [])
  t.same(splitIntoBatches(1, 100), [{ start: 0, end: 1 }])
  t.same(splitIntoBatches(100, 100), [{ start: 0, end: 100 }])
  t.same(splitIntoBatches(250, 100), [{ start: 0, end: 100 }, { start: 100, end: 200 }, { start: 200, end: 250 }])
  t.same(splitIntoBatches(3, 1), [{ start: 0, end: 1 }, { start: 1, end: 2 }, { start: 2, end: 3 }])
  t.equal(splitIntoBatches(100_000, 200).length, 500)

  for (const batchSize of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => splitIntoBatches(10, batchSize), RangeError, `batchSize ${batchSize}`)
  }
  for (const count of [-1, 2.5, Number.NaN]) {
    t.throws(() => splitIntoBatches(count, 10), RangeError, `count ${count}`)
  }
})

t.test('mapWithConcurrency keeps input order and the limit', async (t) => {
  let running = 0
  let peak = 0
  const delays = [30, 5, 20, 1, 10, 15, 2]
  const results = await mapWithConcurrency(delays, 3, async (delay, index) => {
    running++
    peak = Math.max(peak, running)
    await sleep(delay)
    running--
    return `${index}:${delay}`
  })
  t.same(results, delays.map((delay, index) => `${index}:${delay}`))
  t.equal(peak, 3)
})

t.test('mapWithConcurrency with a limit above the item count', async (t) => {
  let started = 0
  const results = await mapWithConcurrency([1, 2], 10, async (item) => {
    started++
    return item * 2
  })
  t.same(results, [2, 4])
  t.equal(started, 2)
  t.same(await mapWithConcurrency([], 4, async () => 1), [])
  t.same(await mapWithConcurrency([1, 2, 3], Number.POSITIVE_INFINITY, async (item) => item), [1, 2, 3])
  t.same(await mapWithConcurrency([1, 2, 3], 1.9, async (item) => item), [1, 2, 3], 'a fractional limit rounds down')
})

t.test('mapWithConcurrency rejects a limit below one', async (t) => {
  for (const limit of [0, -1, 0.5, Number.NaN]) {
    await t.rejects(mapWithConcurrency([1], limit, async (item) => item), RangeError, `limit ${limit}`)
  }
})

t.test('a failing worker does not stop the others; the first error is thrown at the end', async (t) => {
  const finished: number[] = []
  const first = new Error('first')
  const promise = mapWithConcurrency([0, 1, 2, 3, 4], 2, async (item) => {
    await sleep(item === 1 ? 1 : 5)
    if (item === 1) throw first
    if (item === 3) throw new Error('later')
    finished.push(item)
    return item
  })
  await t.rejects(promise, first)
  t.same(finished.sort(), [0, 2, 4], 'every other item still ran')
})

t.test('a worker throwing synchronously or throwing undefined is handled the same way', async (t) => {
  const ran: number[] = []
  const worker = (item: number): Promise<number> => {
    if (item === 0) throw undefined // eslint-disable-line no-throw-literal
    ran.push(item)
    return Promise.resolve(item)
  }
  const outcome = await mapWithConcurrency([0, 1, 2], 1, worker).then(
    () => 'resolved',
    (error: unknown) => ({ rejectedWith: error })
  )
  t.same(outcome, { rejectedWith: undefined })
  t.same(ran, [1, 2])
})
