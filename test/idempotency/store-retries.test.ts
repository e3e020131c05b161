import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { StoreRetries } from '../../src/idempotency/store-retries.js'
import { waitFor } from '../servers.js'

/** A store whose pings fail until it is told to answer, counting them and how many went at once. */
function pingable () {
  const state = { answers: false, pings: 0, concurrent: 0, mostConcurrent: 0 }
  const ping = async () => {
    state.pings++
    state.concurrent++
    state.mostConcurrent = Math.max(state.mostConcurrent, state.concurrent)
    await sleep(5)
    state.concurrent--
    if (!state.answers) throw new Error('Command timed out')
  }
  return { state, ping }
}

const far = () => performance.now() + 60_000
// The retries' timers keep no process alive (the gateway's server does): this one keeps the test's.
const alive = setInterval(() => {}, 1000)
t.teardown(() => { clearInterval(alive) })

t.test('while the store answers no ping, the retries send nothing of their own and share one ping at a time', async (t) => {
  const { state, ping } = pingable()
  const retries = new StoreRetries({ ping, delaysMs: [2, 4] })
  let operations = 0
  const ended = Array.from({ length: 20 }, async (_, i) => await retries.retry(`r${i}`, far(), async () => { operations++ }))
  // Several rounds (2 and 4 ms apart), however slowly a loaded machine runs them.
  await waitFor('the store to be asked again and again', () => state.pings > 3)
  t.equal(operations, 0, 'no command while the store is silent')
  t.equal(state.mostConcurrent, 1, 'one ping at a time, for all of them')
  t.ok(state.pings < 20 * 10, `${state.pings} pings, not one a retry a round`)
  state.answers = true
  t.same(new Set((await Promise.all(ended)).map((end) => end.outcome)), new Set(['done']))
  t.equal(operations, 20, 'once it answers, each sends its own command once')
  t.equal(retries.size, 0)
})

t.test('a retry that keeps failing for reasons of its own holds no other back', async (t) => {
  const { state, ping } = pingable()
  state.answers = true
  const retries = new StoreRetries({ ping, delaysMs: [2] })
  let small = 0
  // Started in the same turn, so they wake together every round.
  const big = retries.retry('big', performance.now() + 200, async () => { throw new Error('Command timed out') })
  const smallEnd = retries.retry('small', far(), async () => {
    if (++small < 3) throw new Error('OOM command not allowed')
  })
  t.same(await smallEnd, { outcome: 'done', attempts: 4 }, 'its own third attempt in the background is taken')
  t.same(await big, { outcome: 'gave-up' }, 'the other gives up when its time runs out')
})

t.test('waking cuts the wait short; closing takes every retry over for one last attempt', async (t) => {
  const { state, ping } = pingable()
  state.answers = true
  const retries = new StoreRetries({ ping, delaysMs: [60_000] })
  let tried = 0
  const woken = retries.retry('woken', far(), async () => { tried++ })
  await sleep(20)
  t.equal(tried, 0, 'waiting its round')
  retries.wake()
  t.same(await woken, { outcome: 'done', attempts: 2 })

  const outcomes = [true, false, false]
  const ends = outcomes.map(async (succeeds, i) => await retries.retry(`closing-${i}`, far(), async () => {
    if (!succeeds) throw new Error('Connection is closed.')
  }))
  await sleep(20)
  t.equal(retries.size, 3)
  t.equal(await retries.lastAttempts(), 2, 'how many failed their last attempt')
  t.same((await Promise.all(ends)).map((end) => end.outcome), ['taken-over', 'taken-over', 'taken-over'], 'each ends at once, not at its next round')
  t.equal(retries.size, 0)
})

t.test('a retry taken over while the store is asked sends nothing more', async (t) => {
  const retries = new StoreRetries({ ping: async () => { await sleep(30) }, delaysMs: [1] })
  let sent = 0
  const end = retries.retry('asked', far(), async () => { sent++ })
  await sleep(10)
  t.equal(await retries.lastAttempts(), 0)
  t.same(await end, { outcome: 'taken-over' })
  t.equal(sent, 1, 'only closing\'s own last attempt')
})
