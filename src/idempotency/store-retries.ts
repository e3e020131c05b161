import { setTimeout as sleep } from 'node:timers/promises'

export type RetryEnd =
  /** the store took it; `attempts` counts the first, refused one */
  | { outcome: 'done', attempts: number }
  /** still refused when the time to try ran out */
  | { outcome: 'gave-up' }
  /** closing took it over, for one last attempt of its own */
  | { outcome: 'taken-over' }

export interface StoreRetriesOptions {
  /** resolves once the store answers at all; rejects when it does not */
  ping: () => Promise<void>
  /** waits between attempts; the last repeats */
  delaysMs: readonly number[]
  /** a monotonic clock in milliseconds */
  now?: () => number
}

/**
 * What the store refused — an answer to store, a key to release — tried again in the background
 * until the store takes it or its time runs out.
 *
 * Each keyed request that met a store not answering (a Redis stalled, each of its commands timing
 * out) has a retry of its own, and during a long stall each would send its command every round,
 * piling up in the store's queue. So a retry first asks whether the store answers at all, and the
 * retries waiting then share one ping: only that goes while the store is silent. Once it answers,
 * each retry sends its own command, so one that keeps failing for reasons of its own (an answer
 * too large to store in time) holds no other back.
 */
export class StoreRetries {
  readonly #options: StoreRetriesOptions
  readonly #now: () => number
  /** by the id of what is retried: its one attempt, for closing to make */
  readonly #pending = new Map<string, () => Promise<boolean>>()
  /** the sleeps of the retries waiting for their next round, each cut short by its own controller */
  readonly #sleeping = new Set<AbortController>()
  #answering: Promise<boolean> | undefined

  constructor (options: StoreRetriesOptions) {
    this.#options = options
    this.#now = options.now ?? (() => performance.now())
  }

  /** Retries waiting. */
  get size (): number {
    return this.#pending.size
  }

  /** Tries `operation` again, round after round, until it succeeds or `giveUpAt` has come. */
  async retry (id: string, giveUpAt: number, operation: () => Promise<void>): Promise<RetryEnd> {
    const attempt = async (): Promise<boolean> => {
      try {
        await operation()
        return true
      } catch {
        return false
      }
    }
    this.#pending.set(id, attempt)
    try {
      const { delaysMs } = this.#options
      for (let round = 0; this.#now() < giveUpAt; round++) {
        const delay = delaysMs[Math.min(round, delaysMs.length - 1)]!
        await this.#sleep(Math.min(delay, Math.max(0, giveUpAt - this.#now())))
        if (!this.#pending.has(id)) return { outcome: 'taken-over' }
        if (!await this.#storeAnswers()) continue
        // Closing may have taken it over while the store was asked.
        if (!this.#pending.has(id)) return { outcome: 'taken-over' }
        if (await attempt()) return { outcome: 'done', attempts: round + 2 }
      }
      return { outcome: 'gave-up' }
    } finally {
      this.#pending.delete(id)
    }
  }

  /** The store is back (its connection is ready again): every retry waiting tries at once. */
  wake (): void {
    for (const sleeping of this.#sleeping) sleeping.abort()
    this.#sleeping.clear()
  }

  /** Takes every retry over for one last attempt each (closing); resolves with how many failed. */
  async lastAttempts (): Promise<number> {
    const attempts = [...this.#pending.values()]
    this.#pending.clear()
    this.wake()
    const succeeded = await Promise.all(attempts.map(async (attempt) => await attempt()))
    return succeeded.filter((ok) => !ok).length
  }

  async #sleep (ms: number): Promise<void> {
    const sleeping = new AbortController()
    this.#sleeping.add(sleeping)
    await sleep(ms, undefined, { ref: false, signal: sleeping.signal }).catch(() => {})
    this.#sleeping.delete(sleeping)
  }

  /** Whether the store answers, asked once for all the retries waiting to know. */
  async #storeAnswers (): Promise<boolean> {
    this.#answering ??= this.#options.ping().then(() => true, () => false).finally(() => { this.#answering = undefined })
    return await this.#answering
  }
}
