/**
 * The recipients one replica's calls may have in flight together. A call holds about 1 KiB a
 * recipient from its body until its answer is taken (a 100,000-recipient call peaked ~100 MiB above idle),
 * and nothing else bounds how many calls run at once: five such calls took the process to 470 MiB,
 * and enough of them would pass its heap or its container's memory limit, ending every call in
 * flight with its answer. A call that would go past the budget is refused before it sends
 * anything, and its caller comes back later.
 */
export class RecipientBudget {
  #inFlight = 0

  constructor (readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`a budget of ${limit} recipients`)
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /** Takes `count` recipients when they fit in what is left; takes nothing and answers false when not. */
  take (count: number): boolean {
    if (this.#inFlight + count > this.limit) return false
    this.#inFlight += count
    return true
  }

  /** Gives back what a call took, once it is over (whatever its outcome). */
  giveBack (count: number): void {
    if (count > this.#inFlight) throw new RangeError(`giving back ${count} recipients of ${this.#inFlight} in flight`)
    this.#inFlight -= count
  }
}
