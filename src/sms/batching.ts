/**
 * Runs tasks with at most `limit` in flight. `submit` resolves once its task has started, so a
 * producer that awaits it slows to the pace of the slowest slot: upstream latency paces the
 * work of preparing the next batches instead of piling them up in memory.
 */
export class TaskPool {
  readonly #limit: number
  readonly #running = new Set<Promise<void>>()
  #failure: { error: unknown } | undefined

  constructor (limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`)
    this.#limit = limit
  }

  async submit (task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running)
    const running: Promise<void> = task()
      .catch((error: unknown) => { this.#failure ??= { error } })
      .finally(() => this.#running.delete(running))
    this.#running.add(running)
  }

  /**
   * Waits for every task. Tasks are expected to settle with their own outcome; if one throws
   * anyway, the others still finish (a batch handed to the provider must not lose its siblings'
   * results) and the first error is thrown here.
   */
  async drain (): Promise<void> {
    while (this.#running.size > 0) await Promise.race(this.#running)
    if (this.#failure !== undefined) throw this.#failure.error
  }
}
