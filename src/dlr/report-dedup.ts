import { randomInt } from 'node:crypto'

/** Reports remembered at most; beyond it the oldest are forgotten first, so memory stays bounded under a flood. */
export const MAX_REMEMBERED_REPORTS = 200_000

/** Pairs the memory has room for before it first grows; it doubles as needed, up to the bound. */
const FIRST_CAPACITY = 1024
/** A table slot that holds no pair. Slots hold a pair's place in the ring plus one. */
const EMPTY = 0
/** The largest seed `randomInt` can draw: 48 bits, split in two halves for the two hashes. */
const SEED_LIMIT = 2 ** 48 - 1

export interface ReportDeduplicatorOptions {
  /** pairs remembered at most */
  maxEntries?: number
  /** milliseconds, monotonic: a wall-clock step must not forget or resurrect reports */
  clock?: () => number
  /** of the fingerprints (48 bits); random, so nobody can choose ids that collide */
  seed?: number
  /** hears of pairs forgotten while still inside the window, to stay within `maxEntries`: a repeat of one would count again */
  onEvicted?: (pairs: number) => void
}

/**
 * Remembers which (message id, state) pairs were counted within a time window, so a provider
 * that pushes the same report again does not count it twice.
 *
 * A pair is remembered as a 64-bit fingerprint (two 32-bit hashes of its text with a seed drawn
 * per process), not as a string: under a flood of reports each one would otherwise leave a
 * string in the V8 heap for the whole window — at the bound of 200,000 pairs, 36 MB of heap the
 * garbage collector copies and marks again and again (a full collection took 32 ms, against 5 ms
 * here). Here everything lives in typed arrays outside the heap (8 MB at the bound, grown on
 * demand). Two different pairs share a
 * fingerprint with a probability of about 2^-64 per pair remembered (~1 in 10^14 per report at
 * the bound); that one report would be taken for a repeat.
 *
 * The pairs sit in a ring in the order they were counted, which is age order, so the oldest is
 * forgotten first in O(1); an open-addressing table (linear probing) finds a fingerprint's place
 * in the ring. The window is exact and the size bounded (bench/README.md, seventh round).
 */
export class ReportDeduplicator {
  // The ring, oldest pair at #head: fingerprint halves and when the pair was counted.
  #ringHigh = new Uint32Array(FIRST_CAPACITY)
  #ringLow = new Uint32Array(FIRST_CAPACITY)
  #ringTime = new Float64Array(FIRST_CAPACITY)
  #head = 0
  #count = 0
  // The table: slot i is [ring place + 1 or EMPTY, low half] at 2i, 2i + 1 — the low half beside
  // the place, so a probe reads one cache line. Twice the ring's size: at most half full.
  #slots = new Uint32Array(FIRST_CAPACITY * 4)
  #mask = FIRST_CAPACITY * 2 - 1
  readonly #windowMs: number
  readonly #maxEntries: number
  readonly #clock: () => number
  readonly #seedHigh: number
  readonly #seedLow: number
  readonly #onEvicted: ((pairs: number) => void) | undefined

  constructor (windowMs: number, { maxEntries = MAX_REMEMBERED_REPORTS, clock = () => performance.now(), seed = randomInt(SEED_LIMIT), onEvicted }: ReportDeduplicatorOptions = {}) {
    this.#windowMs = windowMs
    this.#maxEntries = maxEntries
    this.#clock = clock
    this.#onEvicted = onEvicted
    this.#seedHigh = Math.floor(seed / 2 ** 24) | 0
    this.#seedLow = seed % 2 ** 24
  }

  /** Pairs remembered now (with a clock that went back, a pair can briefly be remembered twice). */
  get size (): number {
    return this.#count
  }

  /** True the first time a pair is seen within the window, false for a repeat. */
  firstSighting (messageId: string, state: string): boolean {
    const now = this.#clock()
    // FNV-1a and the same walk with MurmurHash2's multiplier, each finished with MurmurHash3's
    // mixer: two hashes from one pass over the text. The separator (U+FFFF, never a character
    // of its own) keeps ("ab", "c") and ("a", "bc") apart.
    let high = this.#seedHigh ^ 0x811c9dc5
    let low = this.#seedLow ^ 0x9747b28c
    for (let i = 0; i < messageId.length; i++) {
      const code = messageId.charCodeAt(i)
      high = Math.imul(high ^ code, 0x01000193)
      low = Math.imul(low ^ code, 0x5bd1e995)
    }
    high = Math.imul(high ^ 0xffff, 0x01000193)
    low = Math.imul(low ^ 0xffff, 0x5bd1e995)
    for (let i = 0; i < state.length; i++) {
      const code = state.charCodeAt(i)
      high = Math.imul(high ^ code, 0x01000193)
      low = Math.imul(low ^ code, 0x5bd1e995)
    }
    high = mix(high) >>> 0
    low = mix(low ^ high) >>> 0

    const place = this.#find(high, low)
    if (place !== undefined && now - this.#ringTime[place]! < this.#windowMs) return false
    // Seen before the window, it counts again: forgetting the old first takes its entry away
    // (everything older than it is older than the window too), and the pair goes in anew.
    this.#forgetOld(now)
    this.#remember(high, low, now)
    return true
  }

  /** The pair's place in the ring, if it is remembered. */
  #find (high: number, low: number): number | undefined {
    const slots = this.#slots
    for (let slot = low & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const held = slots[slot * 2]!
      if (held === EMPTY) return undefined
      if (slots[slot * 2 + 1] === low && this.#ringHigh[held - 1] === high) return held - 1
    }
  }

  /** Forgets pairs from the old end while they are out of the window, or while memory is full. */
  #forgetOld (now: number): void {
    let evicted = 0
    while (this.#count > 0) {
      const oldest = this.#head
      const inWindow = now - this.#ringTime[oldest]! < this.#windowMs
      if (this.#count < this.#maxEntries && inWindow) break
      if (inWindow) evicted++
      this.#unslot(oldest)
      this.#head = oldest + 1 === this.#ringHigh.length ? 0 : oldest + 1
      this.#count--
    }
    if (evicted > 0) this.#onEvicted?.(evicted)
  }

  #remember (high: number, low: number, now: number): void {
    if (this.#count === this.#ringHigh.length) this.#grow()
    let place = this.#head + this.#count
    if (place >= this.#ringHigh.length) place -= this.#ringHigh.length
    this.#ringHigh[place] = high
    this.#ringLow[place] = low
    this.#ringTime[place] = now
    this.#count++
    this.#slot(place)
  }

  /**
   * Enters the ring's pair at `place` in the table; a slot still pointing at an older entry of
   * the same pair (possible only with a clock that went back) is pointed at the new one.
   */
  #slot (place: number): void {
    const slots = this.#slots
    const high = this.#ringHigh[place]!
    const low = this.#ringLow[place]!
    for (let slot = low & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const held = slots[slot * 2]!
      if (held === EMPTY || (slots[slot * 2 + 1] === low && this.#ringHigh[held - 1] === high)) {
        slots[slot * 2] = place + 1
        slots[slot * 2 + 1] = low
        return
      }
    }
  }

  /**
   * Takes the ring's entry at `place` out of the table, if a slot still points at it. Linear
   * probing allows no holes in a run of slots, so the slots after it move back into the hole
   * unless that would put them before their own home slot (backward-shift deletion).
   */
  #unslot (place: number): void {
    const slots = this.#slots
    const mask = this.#mask
    let hole = this.#ringLow[place]! & mask
    for (; slots[hole * 2] !== place + 1; hole = (hole + 1) & mask) {
      if (slots[hole * 2] === EMPTY) return
    }
    for (let next = (hole + 1) & mask; slots[next * 2] !== EMPTY; next = (next + 1) & mask) {
      const low = slots[next * 2 + 1]!
      // It may move back unless its home lies in (hole, next], i.e. closer behind it than the hole.
      if (((next - (low & mask)) & mask) >= ((next - hole) & mask)) {
        slots[hole * 2] = slots[next * 2]!
        slots[hole * 2 + 1] = low
        hole = next
      }
    }
    slots[hole * 2] = EMPTY
  }

  /** Doubles the ring (oldest first again) and the table, and enters every pair anew. */
  #grow (): void {
    const capacity = this.#ringHigh.length * 2
    const high = new Uint32Array(capacity)
    const low = new Uint32Array(capacity)
    const time = new Float64Array(capacity)
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#head + i) % this.#ringHigh.length
      high[i] = this.#ringHigh[from]!
      low[i] = this.#ringLow[from]!
      time[i] = this.#ringTime[from]!
    }
    this.#ringHigh = high
    this.#ringLow = low
    this.#ringTime = time
    this.#head = 0
    this.#slots = new Uint32Array(capacity * 4)
    this.#mask = capacity * 2 - 1
    for (let i = 0; i < this.#count; i++) this.#slot(i)
  }
}

/** MurmurHash3's 32-bit finaliser: every input bit reaches every output bit. */
function mix (hash: number): number {
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  return hash ^ (hash >>> 16)
}
