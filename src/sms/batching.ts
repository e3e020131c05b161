export interface Batch { start: number, end: number }

/** Half-open ranges `[start, end)` covering `0..count`; the last one may be shorter. */
export function splitIntoBatches (count: number, batchSize: number): Batch[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`)
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`)
  }
  const batches: Batch[] = []
  for (let start = 0; start < count; start += batchSize) {
    batches.push({ start, end: Math.min(start + batchSize, count) })
  }
  return batches
}

/**
 * Results come back in input order. Workers are expected to settle with a value; if one
 * rejects anyway, the remaining items are still processed (a batch already handed to the
 * provider must not lose its siblings' outcomes) and the first rejection is thrown at the end.
 */
export async function mapWithConcurrency<T, R> (
  items: readonly T[],
  limit: number,
  worker: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`)
  const results = new Array<R>(items.length)
  let next = 0
  let failure: { error: unknown } | undefined

  async function drain (): Promise<void> {
    while (next < items.length) {
      const index = next++
      try {
        results[index] = await worker(items[index] as T, index)
      } catch (error) {
        failure ??= { error }
      }
    }
  }

  const lanes = Math.min(Math.floor(limit), items.length)
  await Promise.all(Array.from({ length: lanes }, drain))
  if (failure !== undefined) throw failure.error
  return results
}
