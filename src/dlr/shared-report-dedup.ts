import type { Redis } from 'ioredis'
import type { ReportDeduplicator } from './report-dedup.js'

const KEY_PREFIX = 'sms-gateway:dlr-seen:'

/** Tells a report counted for the first time from a repeat; answers at once when no other replica need be asked. */
export interface ReportSightings {
  firstSighting (messageId: string, state: string): boolean | Promise<boolean>
}

/**
 * Report de-duplication shared by every replica through Redis: behind a balancer the provider's
 * repeat of a report may reach another replica than the first push did, and must not be
 * counted there again.
 *
 * This replica's own memory answers first, so a repeat it has seen costs no round trip; a pair
 * it has not seen is claimed with one atomic SET NX PX, which exactly one replica wins within
 * the window. While Redis cannot answer, the replica's memory alone decides — a repeat that
 * reaches another replica during an outage is counted twice, rather than any report being lost
 * — and `onUnavailable` hears of the first failure after each success.
 */
export class SharedReportDeduplicator implements ReportSightings {
  readonly #redis: Redis
  readonly #windowMs: number
  readonly #local: ReportDeduplicator
  readonly #onUnavailable: (error: Error) => void
  #available = true

  constructor (redis: Redis, windowMs: number, local: ReportDeduplicator, onUnavailable: (error: Error) => void) {
    this.#redis = redis
    this.#windowMs = windowMs
    this.#local = local
    this.#onUnavailable = onUnavailable
  }

  /** @param state one of the fixed delivery states, which hold no ':', so the key reads one way only */
  firstSighting (messageId: string, state: string): boolean | Promise<boolean> {
    if (!this.#local.firstSighting(messageId, state)) return false
    return this.#claim(messageId, state)
  }

  async #claim (messageId: string, state: string): Promise<boolean> {
    try {
      const won = await this.#redis.set(`${KEY_PREFIX}${state}:${messageId}`, '1', 'PX', this.#windowMs, 'NX')
      this.#available = true
      return won === 'OK'
    } catch (error) {
      if (this.#available) this.#onUnavailable(error as Error)
      this.#available = false
      return true
    }
  }
}
