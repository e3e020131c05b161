/** Reports remembered at most; beyond it the oldest are forgotten first, so memory stays bounded under a flood. */
export const MAX_REMEMBERED_REPORTS = 200_000

/**
 * Remembers which (message id, state) pairs were counted within a time window, so a provider
 * that pushes the same report again does not count it twice.
 *
 * One Map from pair to when it was counted. Entries are never refreshed, so the Map's insertion
 * order is their age order: the oldest is always first, and forgetting it is O(1). (lru-cache did
 * the same with per-entry TTL bookkeeping that cost every report more than the lookup itself.)
 */
export class ReportDeduplicator {
  readonly #countedAt = new Map<string, number>()
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
    if (countedAt !== undefined) {
      if (now - countedAt < this.#windowMs) return false
      // Seen before the window: it counts again, and moves to the young end.
      this.#countedAt.delete(key)
    }
    this.#forgetExpired(now)
    this.#countedAt.set(key, now)
    return true
  }

  /** Drops pairs from the old end while they are out of the window, or while the Map is full. */
  #forgetExpired (now: number): void {
    for (const [key, countedAt] of this.#countedAt) {
      if (this.#countedAt.size < this.#maxEntries && now - countedAt < this.#windowMs) return
      this.#countedAt.delete(key)
    }
  }
}
