import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TaskPool } from '../../src/sms/batching.js'

t.test('never more than the limit in flight, every task run', async (t) => {
  const pool = new TaskPool(3)
  let inFlight = 0
  let peak = 0
  const done: number[] = []
  for (let i = 0; i < 20; i++) {
    await pool.submit(async () => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await sleep(1 + (i % 4))
      inFlight--
      done.push(i)
    })
    t.ok(inFlight <= 3)
  }
  await pool.drain()
  t.equal(peak, 3)
  t.same([...done].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i))
})

t.test('submit waits for a free slot', async (t) => {
  const pool = new TaskPool(1)
  let released = false
  await pool.submit(async () => { await sleep(20); released = true })
  t.notOk(released)
  await pool.submit(async () => {})
  t.ok(released, 'the second task started only after the first ended')
  await pool.drain()
})

/** A promise the test settles when it chooses, rather than a timer racing another. */
function gate (): { opened: Promise<void>, open: () => void } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { opened, open }
}

t.test('a throwing task does not stop the others; drain rethrows the first error', async (t) => {
  const pool = new TaskPool(2)
  const finished: string[] = []
  const [first, second, third] = [gate(), gate(), gate()]
  await pool.submit(async () => { await first.opened; throw new Error('first') })
  await pool.submit(async () => { await second.opened; throw new Error('second') })
  // The second fails first; the third takes its slot.
  second.open()
  await pool.submit(async () => { await third.opened; finished.push('third') })
  first.open()
  third.open()
  await t.rejects(pool.drain(), { message: 'second' })
  t.same(finished, ['third'])
})

t.test('drain of an empty pool resolves; bad limits are refused', async (t) => {
  await new TaskPool(1).drain()
  t.throws(() => new TaskPool(0), RangeError)
  t.throws(() => new TaskPool(1.5), RangeError)
})
