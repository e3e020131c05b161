import { LRUCache } from 'lru-cache'

/** Reports remembered at most; beyond it the oldest are forgotten first, so memory stays bounded under a flood. */
export const MAX_REMEMBERED_REPORTS = 200_000

/**
 * Remembers which (message id, state) pairs were counted within a time window, so a provider
 * that pushes the same report again does not count it twice.
 */
export class ReportDeduplicator {
  readonly #seen: LRUCache<string, true>

  constructor (windowMs: number, maxEntries = MAX_REMEMBERED_REPORTS) {
    // A count bound through maxSize: lru-cache preallocates for `max`, which would slow every start.
    this.#seen = new LRUCache<string, true>({ maxSize: maxEntries, sizeCalculation: () => 1, ttl: windowMs, ttlAutopurge: false })
  }

  /** True the first time a pair is seen within the window, false for a repeat. */
  firstSighting (messageId: string, state: string): boolean {
    const key = `${messageId}\u0000${state}`
    if (this.#seen.has(key)) return false
    this.#seen.set(key, true)
    return true
  }
}
