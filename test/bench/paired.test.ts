import t from 'tap'
import { summarisePaired, tQuantile975 } from '../../bench/lib/paired.js'

t.test('a paired summary: median, mean and the 95% interval of the mean', async (t) => {
  const summary = summarisePaired([1, 1.1, 0.9, 1])
  t.equal(summary.rounds, 4)
  t.equal(summary.median, 1, 'an even count: the mean of the middle two')
  t.ok(Math.abs(summary.mean - 1) < 1e-12)
  // s = sqrt(0.02 / 3), t(3) = 3.182, half-width = t · s / sqrt(4)
  const halfWidth = 3.182 * Math.sqrt(0.02 / 3) / 2
  t.ok(Math.abs(summary.low - (1 - halfWidth)) < 1e-9, `low ${summary.low}`)
  t.ok(Math.abs(summary.high - (1 + halfWidth)) < 1e-9, `high ${summary.high}`)

  const odd = summarisePaired([0.95, 1.2, 0.97])
  t.equal(odd.median, 0.97, 'an odd count: the middle one')
  t.ok(odd.mean > odd.median, 'the mean follows the outlier, the median does not')

  const steady = summarisePaired([0.98, 0.98, 0.98])
  t.same([steady.low, steady.high], [0.98, 0.98], 'no spread, no interval')
})

t.test('Student\'s t for the interval, conservative between table rows', async (t) => {
  t.equal(tQuantile975(1), 12.706)
  t.equal(tQuantile975(15), 2.131)
  t.equal(tQuantile975(11), 2.228, 'between 10 and 12 degrees: the value for 10')
  t.equal(tQuantile975(120), 1.98)
  t.equal(tQuantile975(500), 1.96)
  t.throws(() => tQuantile975(0), RangeError)
  t.throws(() => tQuantile975(2.5), RangeError)
})

t.test('too few or broken rounds are refused', async (t) => {
  t.throws(() => summarisePaired([1]), /two rounds at least/)
  t.throws(() => summarisePaired([1, Number.NaN]), /finite/)
  t.throws(() => summarisePaired([1, Number.POSITIVE_INFINITY]), /finite/)
})
