/** Reports remembered at most; beyond it the oldest are forgotten first, so memory stays bounded under a flood. */
export const MAX_REMEMBERED_REPORTS = 200_000

/** Dequeued slots a queue may hold at its front before it is compacted (amortised O(1)). */
const COMPACT_AFTER = 4096

/**
 * Remembers which (message id, state) pairs were counted within a time window, so a provider
 * that pushes the same report again does not count it twice.
 *
 * A Map from pair to when it was counted answers the question; a queue of (pair, time) in the
 * order they were counted says which to forget first, in O(1). The Map is never iterated: after
 * deletions from its front V8 walks over the deleted slots, and a sliding window delete on
 * every insert made that walk grow with the window (bench/README.md).
 */
export class ReportDeduplicator {
  readonly #countedAt = new Map<string, number>()
  #queuedKeys: Array<string | undefined> = []
  #queuedTimes: number[] = []
  #head = 0
  readonly #windowMs: number
  readonly #maxEntries: number
  readonly #clock: () => number

  /** @param clock milliseconds, monotonic: a wall-clock step must not forget or resurrect reports */
  constructor (windowMs: number, maxEntries = MAX_REMEMBERED_REPORTS, clock: () => number = () => performance.now()) {
    this.#windowMs = windowMs
    this.#maxEntries = maxEntries
    this.#clock = clock
  }

  /** Pairs remembered now. */
  get size (): number {
    return this.#countedAt.size
  }

  /** True the first time a pair is seen within the window, false for a repeat. */
  firstSighting (messageId: string, state: string): boolean {
    const now = this.#clock()
    const key = `${messageId}\u0000${state}`
    const countedAt = this.#countedAt.get(key)
    if (countedAt !== undefined && now - countedAt < this.#windowMs) return false
    this.#forgetOld(now)
    // Seen before the window, it counts again: the newer time replaces the older, whose queue
    // entry then no longer matches and is skipped when its turn comes.
    this.#countedAt.set(key, now)
    this.#queuedKeys.push(key)
    this.#queuedTimes.push(now)
    return true
  }

  /** Forgets pairs from the old end while they are out of the window, or while memory is full. */
  #forgetOld (now: number): void {
    while (this.#head < this.#queuedKeys.length) {
      const time = this.#queuedTimes[this.#head]!
      if (this.#countedAt.size < this.#maxEntries && now - time < this.#windowMs) break
      const key = this.#queuedKeys[this.#head]!
      if (this.#countedAt.get(key) === time) this.#countedAt.delete(key)
      this.#queuedKeys[this.#head] = undefined
      this.#head++
    }
    if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#queuedKeys.length) {
      this.#queuedKeys = this.#queuedKeys.slice(this.#head)
      this.#queuedTimes = this.#queuedTimes.slice(this.#head)
      this.#head = 0
    }
  }
}
