import { Histogram, Registry } from 'prom-client'
import t from 'tap'
import { FastHistogram } from '../../src/metrics-histogram.js'

/**
 * src/metrics-histogram.ts against prom-client's own Histogram as the oracle: the same
 * observations give the same /metrics text, series order included, also after a reset.
 */

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

function pair<Label extends string> (labelNames: readonly Label[], buckets = BUCKETS) {
  const oracle = new Registry()
  const subject = new Registry()
  const options = { name: 'sms_gateway_test_seconds', help: 'Duration of a test, by "thing"\\ and\nmore', buckets }
  return {
    oracle: new Histogram({ ...options, labelNames, registers: [oracle] }),
    subject: new FastHistogram<Label>({ ...options, labelNames, registers: [subject] }),
    text: async () => ({ oracle: await oracle.metrics(), subject: await subject.metrics() }),
    reset: () => { oracle.resetMetrics(); subject.resetMetrics() }
  }
}

/** Values on and around every bound, below the first, above the last, zero, negative, tiny and huge. */
function valuesAround (buckets: readonly number[], random: () => number): number[] {
  const values = [0, -1, -0.0001, 1e-9, 1e9, 31, 30.000001]
  for (const bound of buckets) values.push(bound, bound * (1 - 1e-12), bound * (1 + 1e-12), bound / 2)
  for (let i = 0; i < 500; i++) values.push(random() * 40 - 1)
  return values
}

/** A small deterministic generator, so a failure repeats. */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

t.test('with three labels: the same text as prom-client, series in the order they first appeared', async (t) => {
  const random = seeded(7)
  const { oracle, subject, text, reset } = pair(['method', 'route', 'status_code'] as const)
  const methods = ['GET', 'POST', 'HEAD']
  const routes = ['/sms', '/dlr', '/metrics', 'unmatched', 'with "quotes" and \\ and \n']
  const codes = ['200', '207', '400', '401', '404', '502']
  for (const value of valuesAround(BUCKETS, random)) {
    const labels = {
      method: methods[Math.floor(random() * methods.length)]!,
      route: routes[Math.floor(random() * routes.length)]!,
      status_code: codes[Math.floor(random() * codes.length)]!
    }
    oracle.observe(labels, value)
    subject.observe(labels, value)
  }
  const first = await text()
  t.ok(first.subject.split('\n').length > 500, 'many series were exported')
  t.equal(first.subject, first.oracle)

  reset()
  const afterReset = await text()
  t.equal(afterReset.subject, afterReset.oracle, 'a reset forgets every series, as prom-client does')
  oracle.observe({ method: 'GET', route: '/dlr', status_code: '200' }, 0.002)
  subject.observe({ method: 'GET', route: '/dlr', status_code: '200' }, 0.002)
  const again = await text()
  t.equal(again.subject, again.oracle, 'and counts afresh after it')
})

t.test('with one label and with none (exported with zeros before any observation)', async (t) => {
  const random = seeded(11)
  const buckets = [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600]
  const one = pair(['status'] as const, buckets)
  const none = pair([], [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
  const before = await none.text()
  t.equal(before.subject, before.oracle, 'no observation yet')
  for (const status of ['undelivered', 'sent']) {
    one.oracle.zero({ status })
    one.subject.zero({ status })
  }
  const zeroed = await one.text()
  t.equal(zeroed.subject, zeroed.oracle, 'series exported at zero before their first observation, as prom-client\'s zero() does')
  t.match(zeroed.subject, /\nsms_gateway_test_seconds_count\{status="sent"\} 0\n/)
  for (const value of valuesAround(buckets, () => random() * 4000)) {
    const status = ['delivered', 'undelivered', 'other'][Math.floor(random() * 3)]!
    one.oracle.observe({ status }, value)
    one.subject.observe({ status }, value)
    none.oracle.observe(value)
    none.subject.observe(value)
  }
  const withOne = await one.text()
  t.equal(withOne.subject, withOne.oracle, 'one label')
  const withNone = await none.text()
  t.equal(withNone.subject, withNone.oracle, 'no label')
})

t.test('refuses what prom-client refuses, and a malformed set of buckets', async (t) => {
  const { subject } = pair(['status'] as const)
  t.throws(() => { subject.observe({ status: 'delivered' }, Number.NaN) }, TypeError)
  t.throws(() => { subject.observe({ status: 'delivered' }, Number.POSITIVE_INFINITY) }, TypeError)
  t.throws(() => { subject.observe({} as { status: string }, 1) }, /label "status" must be a string/)
  t.throws(() => new FastHistogram({ name: 'x', help: 'x', buckets: [] }), RangeError)
  t.throws(() => new FastHistogram({ name: 'x', help: 'x', buckets: [1, 1] }), RangeError)
  t.throws(() => new FastHistogram({ name: 'x', help: 'x', buckets: [1, Number.POSITIVE_INFINITY] }), RangeError)
  const registry = new Registry()
  const sorted = new FastHistogram({ name: 'y', help: 'y', buckets: [5, 1], registers: [registry] })
  sorted.observe(3)
  t.match(await registry.metrics(), /y_bucket\{le="1"\} 0\ny_bucket\{le="5"\} 1\n/, 'buckets given out of order are sorted')
  t.throws(() => new FastHistogram({ name: 'y', help: 'y', buckets: [1], registers: [registry] }), /already been registered/)
})
