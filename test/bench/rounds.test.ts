import t from 'tap'
import { atMost, formatTable, latencyFigures, ratioAtLeast, roundsNote, skippedRow, type Row } from '../../bench/lib/report.js'
import type { LatencySummary } from '../../bench/lib/latency.js'
import { alternation, planMeasurement, roundsFor, startBoth, warmupSecondsFor } from '../../bench/lib/rounds.js'

t.test('turns alternate A B B A, so each side is as often first as second', async (t) => {
  t.same(alternation(['A', 'B'], 2), ['A', 'B', 'B', 'A'])
  t.same(alternation(['A', 'B'], 4), ['A', 'B', 'B', 'A', 'A', 'B', 'B', 'A'])
  t.same(alternation(['A', 'B'], 1), ['A', 'B'])
  t.same(alternation(['A', 'B', 'C'], 2), ['A', 'B', 'C', 'C', 'B', 'A'], 'three sides: every other pass reversed')
  t.same(alternation(['A', 'B', 'C'], 3), ['A', 'B', 'C', 'C', 'B', 'A', 'A', 'B', 'C'])
})

t.test('rounds: two 1-s stretches a side each, one at least; warm-up 1 to 5 s', async (t) => {
  t.equal(roundsFor(10), 5, 'the full run: 10 s a side')
  t.equal(roundsFor(5), 3, 'half of it, rounded up to whole rounds')
  t.equal(roundsFor(1), 1, 'the smoke run')
  t.equal(roundsFor(0.5), 1)
  t.same([10, 5, 1, 0.5].map(warmupSecondsFor), [5, 3, 1, 1])
})

t.test('a half-length measurement warms its fresh servers up as long as the run\'s main one', async (t) => {
  t.same(planMeasurement(10), { seconds: 10, warmupSeconds: 5 }, 'the full run\'s main measurement')
  const half = planMeasurement(10, 1 / 2)
  t.same(half, { seconds: 5, warmupSeconds: 5 }, 'the 500 req/s part, "signed apart", the gateways of row 6: 5 s, not 3')
  t.equal(roundsFor(half.seconds), 3, 'three rounds, 6 s a side')
  t.same(planMeasurement(1, 1 / 2), { seconds: 0.5, warmupSeconds: 1 }, 'the smoke run stays short')
})

t.test('a round whose other server fails to start stops the one it started, and says why', async (t) => {
  const stopped: string[] = []
  const server = (name: string) => async () => ({ name, stop: async () => { stopped.push(name) } })
  const failing = async (): Promise<{ name: string, stop: () => Promise<void> }> => { throw new Error('baseline did not start') }

  const [a, b] = await startBoth(server('subject'), server('baseline'))
  t.same([a.name, b.name], ['subject', 'baseline'], 'both started, in order')
  t.same(stopped, [], 'and left running')

  await t.rejects(startBoth(server('subject'), failing), /baseline did not start/)
  t.same(stopped, ['subject'])
  stopped.length = 0
  await t.rejects(startBoth(failing, server('subject')), /baseline did not start/, 'the same the other way round')
  t.same(stopped, ['subject'])
  stopped.length = 0
  await t.rejects(startBoth(failing, failing), /baseline did not start/, 'neither started: nothing to stop')
  t.same(stopped, [])
})

t.test('a ratio measured in rounds is judged on the run, with its rounds\' interval beside it', async (t) => {
  const clear = ratioAtLeast('throughput', 0.9, 0.8, [0.88, 0.9, 0.92, 0.91, 0.89])
  t.equal(clear.pass, true)
  t.equal(clear.rounds?.rounds, 5)
  t.ok(clear.rounds!.low > 0.8 && clear.rounds!.high < 1, `${clear.rounds!.low}–${clear.rounds!.high}`)
  t.equal(clear.rounds?.decided, true, 'the whole interval is above the target')

  const below = ratioAtLeast('throughput', 0.7, 0.8, [0.69, 0.7, 0.71])
  t.equal(below.pass, false)
  t.equal(below.rounds?.decided, true, 'the whole interval is below the target')

  const straddling = ratioAtLeast('throughput', 0.81, 0.8, [0.7, 0.95, 0.78, 0.83])
  t.equal(straddling.pass, true, 'still judged on the run\'s own ratio')
  t.equal(straddling.rounds?.decided, false, 'but the interval holds the target')

  t.equal(ratioAtLeast('throughput', 0.81, 0.8, [0.81]).rounds, undefined, 'one round gives no interval')
})

t.test('the table prints the interval and says when a run cannot decide', async (t) => {
  const table = formatTable([tableRow({
    figures: [{ measure: 'throughput', unit: 'req/s', subject: 810, baseline: 1000 }],
    checks: [ratioAtLeast('throughput vs. bare route', 0.81, 0.8, [0.7, 0.95, 0.78, 0.83])],
    notes: [roundsNote([0.7, 0.95, 0.78, 0.83])]
  })], 'header')
  t.match(table, /PASS {2}throughput vs\. bare route: 0\.81× \(target >= 0\.8×\)/)
  t.match(table, /4 rounds, 95% interval of their mean ratio 0\.\d\d–0\.\d\d×: it holds the target, so this run alone does not decide it/)
  t.match(table, /note: throughput ratio of each round \(both servers started afresh for it\): 0\.70 0\.95 0\.78 0\.83/)
})

t.test('the table: figures with and without a baseline, a limit in ms, a skipped row', async (t) => {
  const row = tableRow({
    figures: [
      ...latencyFigures('at 500 req/s:', latency(2.15, 14.16), latency(1.7, 12.16)),
      ...latencyFigures('alone:', latency(1, 2))
    ],
    checks: [atMost('p99 added', 2.5, 2, 'ms')]
  })
  const table = formatTable([row, skippedRow({ id: 'kannel', title: 'kannel', subject: 'gateway', baseline: 'Kannel' }, 'no bearerbox')], 'header')
  t.match(table, /at 500 req\/s: p99 \(ms\) +14\.2 +12\.2 +1\.16×/)
  t.match(table, /alone: p50 \(ms\) +1\n/, 'no baseline, no ratio')
  t.match(table, /FAIL {2}p99 added: 2\.5 ms \(target <= 2 ms\)/)
  t.notMatch(table, /interval/, 'a limit in ms has no rounds')
  t.match(table, /kannel\n {2}skipped: no bearerbox/)
})

function latency (p50: number, p99: number): LatencySummary {
  return { p50, p90: p50, p99, max: p99, mean: p50, count: 1000 }
}

/** A row of the table with what a test gives it; the rest are fixed names. */
function tableRow (parts: Pick<Row, 'figures' | 'checks'> & Partial<Pick<Row, 'notes'>>): Row {
  return { id: 'send', title: 'send', subject: 'gateway', baseline: 'baseline', notes: [], ...parts }
}
