/**
 * Summary of a paired comparison: one ratio per round (the change's CPU per request over the
 * reference's, both measured in the same seconds), so the machine's drift from round to round
 * cancels out of each ratio instead of landing on one side.
 */
export interface PairedSummary {
  rounds: number
  median: number
  mean: number
  /** the 95% confidence interval of the mean (Student's t), [low, high] */
  low: number
  high: number
}

/** Student's t, two-sided 95%, by degrees of freedom; between two rows the smaller one's (larger t) is used. */
const T_975: ReadonlyArray<readonly [number, number]> = [
  [1, 12.706], [2, 4.303], [3, 3.182], [4, 2.776], [5, 2.571], [6, 2.447], [7, 2.365], [8, 2.306],
  [9, 2.262], [10, 2.228], [12, 2.179], [15, 2.131], [20, 2.086], [30, 2.042], [60, 2.0], [120, 1.98]
]

export function tQuantile975 (degreesOfFreedom: number): number {
  if (!Number.isInteger(degreesOfFreedom) || degreesOfFreedom < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${degreesOfFreedom}`)
  if (degreesOfFreedom > 120) return 1.96
  return T_975.findLast(([df]) => df <= degreesOfFreedom)![1]
}

export function summarisePaired (ratios: readonly number[]): PairedSummary {
  if (ratios.length < 2) throw new RangeError(`a paired comparison needs two rounds at least, got ${ratios.length}`)
  if (!ratios.every(Number.isFinite)) throw new RangeError('every round must give a finite ratio')
  const sorted = [...ratios].sort((a, b) => a - b)
  const middle = sorted.length / 2
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2
  const mean = ratios.reduce((sum, ratio) => sum + ratio, 0) / ratios.length
  const variance = ratios.reduce((sum, ratio) => sum + (ratio - mean) ** 2, 0) / (ratios.length - 1)
  const halfWidth = tQuantile975(ratios.length - 1) * Math.sqrt(variance / ratios.length)
  return { rounds: ratios.length, median, mean, low: mean - halfWidth, high: mean + halfWidth }
}
