import type { Metric, Registry } from 'prom-client'

interface Series {
  /** the series' label values, by name */
  readonly labels: Readonly<Record<string, string>>
  /** observations per bucket, not cumulative: index i counts values in (bounds[i - 1], bounds[i]] */
  readonly counts: Float64Array
  sum: number
  count: number
}

/** One level of the series tree: a label's value → the next level, or the series at the last. */
type Level = Map<string, Level | Series>

interface ExportedValue {
  labels: Record<string, string | number>
  sharedLabels: Readonly<Record<string, string>>
  value: number
  metricName: string
}

export interface FastHistogramOptions<Label extends string> {
  name: string
  help: string
  labelNames?: readonly Label[]
  buckets: readonly number[]
  registers?: Registry[]
}

/**
 * A Prometheus histogram for code that observes on every request. prom-client's own Histogram
 * checks the label names, builds a key string from them and converts the bucket's bound to a
 * property name on every observation, ~0.25–0.55 µs measured alone and about four times that inside
 * the running gateway (bench/README.md); here a series is found by its label values through one
 * Map per label — the values are route templates, methods and fixed words, whose hashes V8 keeps —
 * and its buckets are a Float64Array.
 *
 * Exposition stays prom-client's: the histogram registers with a prom-client Registry and answers
 * `get()` with the values prom-client's Histogram would give, so `/metrics` reads the same (a
 * test compares the two on the same observations). Every label is required on every observation.
 */
export class FastHistogram<Label extends string = never> {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #labelNames: readonly Label[]
  readonly #bounds: Float64Array
  #root: Level | Series
  /** every series in the order it first appeared: the order prom-client exports them in */
  #series: Series[] = []

  constructor ({ name, help, labelNames = [], buckets, registers = [] }: FastHistogramOptions<Label>) {
    const bounds = [...buckets].sort((a, b) => a - b)
    if (bounds.length === 0 || bounds.some((bound, i) => !Number.isFinite(bound) || bound === bounds[i - 1])) {
      throw new RangeError(`${name}: buckets must be distinct finite numbers`)
    }
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    this.#bounds = Float64Array.from(bounds)
    this.#root = this.#emptyRoot()
    // prom-client types its Registry for its own metric classes; what it calls on one is name,
    // help, type, aggregator, get() and reset(), all here.
    for (const registry of registers) registry.registerMetric(this as unknown as Metric)
  }

  /** Adds one observation; with no label names, `observe(value)`. */
  observe (...args: [Label] extends [never] ? [value: number] : [labels: Readonly<Record<Label, string>>, value: number]): void {
    const [labels, value] = args.length === 1 ? [undefined, args[0]] : args
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: the value must be a finite number, got ${String(value)}`)
    const series = labels === undefined ? this.#root as Series : this.#seriesFor(labels as Readonly<Record<string, string>>)
    const bounds = this.#bounds
    let bucket = 0
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++
    // Past the last bound only +Inf counts it, and +Inf is the count.
    if (bucket < bounds.length) series.counts[bucket]! += 1
    series.sum += value
    series.count += 1
  }

  /**
   * Exports the series of these labels from now on, at 0 until its first observation (prom-client's
   * `zero`): one that first appears with a count has no increase() in Prometheus for it.
   */
  zero (labels: Readonly<Record<Label, string>>): void {
    this.#seriesFor(labels as Readonly<Record<string, string>>)
  }

  /** What prom-client's Registry formats: per series its buckets, +Inf, sum and count, as prom-client's Histogram gives them. */
  async get (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: ExportedValue[] }> {
    const values: ExportedValue[] = []
    const bucketName = `${this.name}_bucket`
    for (const series of this.#series) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i]!
        values.push({ labels: { le: this.#bounds[i]! }, sharedLabels: series.labels, value: cumulative, metricName: bucketName })
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: bucketName },
        { labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count` }
      )
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    this.#series = []
    this.#root = this.#emptyRoot()
  }

  /** Without labels the one series exists from the start (prom-client exports it with zeros too). */
  #emptyRoot (): Level | Series {
    return this.#labelNames.length === 0 ? this.#newSeries({}) : new Map()
  }

  #newSeries (labels: Record<string, string>): Series {
    const series = { labels, counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 }
    this.#series.push(series)
    return series
  }

  #seriesFor (labels: Readonly<Record<string, string>>): Series {
    const names = this.#labelNames
    let level = this.#root as Level
    const last = names.length - 1
    for (let i = 0; i < last; i++) {
      const value = labelValue(this.name, names[i]!, labels)
      let next = level.get(value) as Level | undefined
      if (next === undefined) {
        next = new Map()
        level.set(value, next)
      }
      level = next
    }
    const value = labelValue(this.name, names[last]!, labels)
    let series = level.get(value) as Series | undefined
    if (series === undefined) {
      const own: Record<string, string> = {}
      for (const name of names) own[name] = labels[name]!
      series = this.#newSeries(own)
      level.set(value, series)
    }
    return series
  }
}

function labelValue (metric: string, name: string, labels: Readonly<Record<string, string>>): string {
  const value = labels[name]
  if (typeof value !== 'string') throw new TypeError(`${metric}: label "${name}" must be a string, got ${typeof value}`)
  return value
}
