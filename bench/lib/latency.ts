/**
 * Latencies as a sparse histogram of 10-µs buckets: small enough to pass between processes,
 * mergeable across the halves of an interleaved run, and finer than autocannon's whole
 * milliseconds (the send row's target is a 2-ms difference).
 */
export type LatencyHistogram = Record<string, number>

export interface LatencySummary { p50: number, p90: number, p99: number, max: number, mean: number, count: number }

const BUCKETS_PER_MS = 100

export function recordLatency (histogram: LatencyHistogram, ms: number): void {
  const bucket = String(Math.floor(ms * BUCKETS_PER_MS))
  histogram[bucket] = (histogram[bucket] ?? 0) + 1
}

export function mergeHistograms (...histograms: LatencyHistogram[]): LatencyHistogram {
  const merged: LatencyHistogram = {}
  for (const histogram of histograms) {
    for (const [bucket, count] of Object.entries(histogram)) merged[bucket] = (merged[bucket] ?? 0) + count
  }
  return merged
}

/** Percentiles report the upper edge of their bucket, so they never flatter. */
export function summariseLatency (histogram: LatencyHistogram): LatencySummary {
  const buckets = Object.entries(histogram).map(([bucket, count]) => [Number(bucket), count] as const).sort((a, b) => a[0] - b[0])
  const count = buckets.reduce((sum, [, n]) => sum + n, 0)
  if (count === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0, count: 0 }
  const upperEdge = (bucket: number) => (bucket + 1) / BUCKETS_PER_MS
  const percentile = (p: number) => {
    const rank = Math.ceil(count * p)
    let seen = 0
    for (const [bucket, n] of buckets) {
      seen += n
      if (seen >= rank) return upperEdge(bucket)
    }
    return upperEdge(buckets.at(-1)![0])
  }
  const mean = buckets.reduce((sum, [bucket, n]) => sum + (bucket + 0.5) / BUCKETS_PER_MS * n, 0) / count
  return { p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: upperEdge(buckets.at(-1)![0]), mean, count }
}

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
