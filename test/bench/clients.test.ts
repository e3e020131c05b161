import t from 'tap'
import { clientRuns, warmupSecondsFor } from '../../bench/lib/rounds.js'

t.test('row 6: each client alone runs twice, in turns, every run a fresh process warmed up', async (t) => {
  const runs = clientRuns(10)
  t.same(runs.map((r) => r.client), ['got', 'undici', 'undici', 'got'])
  t.same(runs.map((r) => r.warmupSeconds), [5, 5, 5, 5], 'the second run of a client is a new process, as cold as the first')
  t.ok(clientRuns(1).every((r) => r.warmupSeconds === warmupSecondsFor(1)), 'the smoke run: its own short warm-up')
})
