/** The last `capacity` entries, oldest first; a ring so recording stays O(1) on the hot path. */
export class RecentEntries<T> {
  readonly #capacity: number
  #entries: T[] = []
  #next = 0

  constructor (capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity))
  }

  push (entry: T): void {
    if (this.#capacity === 0) return
    if (this.#entries.length < this.#capacity) {
      this.#entries.push(entry)
      return
    }
    this.#entries[this.#next] = entry
    this.#next = (this.#next + 1) % this.#capacity
  }

  /** A copy, oldest first; `last` keeps only the newest ones. */
  list (last: number = this.#entries.length): T[] {
    const ordered = this.#next === 0 ? [...this.#entries] : [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)]
    return last >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, last))
  }

  clear (): void {
    this.#entries = []
    this.#next = 0
  }
}
