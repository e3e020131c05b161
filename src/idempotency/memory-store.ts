import { LRUCache } from 'lru-cache'
import { claimResultOf, type ClaimOptions, type ClaimResult, type IdempotencyStore, type KeyRecord, type StoredResponse } from './store.js'

/** Stored response bodies may be megabytes (100,000 recipients); the cache is bounded by bytes too. */
export const MEMORY_STORE_MAX_BYTES = 256 * 1024 * 1024
const RECORD_OVERHEAD_BYTES = 256
/** Expired claims are swept when this many have gathered (or twice as many as the last sweep left). */
const MIN_SWEEP_SIZE = 1024
/**
 * How often, at most, a full store looks through every answer for expired ones before it evicts
 * live ones (lru-cache forgets an expired answer only when it is read or reaches the end of its
 * list): a look costs ~1 ms per 100,000 answers, and a full store is over its bound at every store.
 */
const STALE_PURGE_INTERVAL_MS = 1000

export interface MemoryStoreOptions {
  maxKeys: number
  /** what the answers may weigh together (the bytes V8 holds their bodies in, and an overhead each) */
  maxBytes?: number
  /** the clock in milliseconds; monotonic by default */
  now?: () => number
  /**
   * called for each answer dropped to make room while its TTL still ran: a retry with that key
   * would send again, which an operator must hear of
   */
  onEarlyEviction?: () => void
  /**
   * whose a key is (the client it belongs to): the owners share the bound, and one storing more
   * than its share (the bound over the owners holding answers) evicts its own, so one client's
   * flood cannot push another's answers below that share. Unset: one owner for all keys.
   */
  ownerOf?: (key: string) => string
}

const BEYOND_LATIN1 = /[\u0100-\uffff]/

/**
 * What V8 holds a string in: a byte a character, or two for every character once one of them is
 * beyond Latin-1 — an ASCII answer that echoes one caller's "ł" weighs twice its UTF-8 length.
 */
export function heapBytesOf (text: string): number {
  return BEYOND_LATIN1.test(text) ? 2 * text.length : text.length
}

interface Claim { fingerprint: string, token: string | undefined, runningUntil: number, keptUntil: number }

/**
 * One process's keys. Finished answers are bounded by count and bytes, each kept for its TTL; when
 * they outgrow the bound, expired ones go first, then the least recently used (stored or replayed)
 * answer of the owner (client) storing, if it holds its share of the bound or more, else of the
 * owner holding the most. Claims of requests still running are kept apart and never
 * evicted: pushing a running send's claim out of a full cache would let a retry of it send again.
 * Their number is bounded by the requests the process is running. Replicas do not share it — set
 * REDIS_URL for that.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  /** each owner's answers, least recently used first */
  readonly #owners = new Map<string, LRUCache<string, KeyRecord>>()
  readonly #claims = new Map<string, Claim>()
  readonly #now: () => number
  readonly #maxBytes: number
  readonly #ownerOf: (key: string) => string
  readonly #newOwnerRecords: () => LRUCache<string, KeyRecord>
  #sweepAt = MIN_SWEEP_SIZE
  #purgedAt = Number.NEGATIVE_INFINITY

  constructor ({ maxKeys, maxBytes = MEMORY_STORE_MAX_BYTES, now = () => performance.now(), onEarlyEviction, ownerOf = () => '' }: MemoryStoreOptions) {
    // Bounded by size alone (lru-cache preallocates for a `max` count, slowing every start):
    // no record counts less than maxBytes / maxKeys (rounded down), so at most maxKeys fit.
    const smallestRecord = Math.max(RECORD_OVERHEAD_BYTES, Math.floor(maxBytes / maxKeys))
    this.#newOwnerRecords = () => {
      const records: LRUCache<string, KeyRecord> = new LRUCache<string, KeyRecord>({
        // One owner alone may fill the whole bound, as all did when they shared one cache.
        maxSize: maxBytes,
        sizeCalculation: (record) => Math.max(smallestRecord, RECORD_OVERHEAD_BYTES + (record.state === 'done' ? heapBytesOf(record.response.body) : 0)),
        perf: { now },
        // Read the clock on every lookup (its default caches it for a millisecond, by a timer).
        ttlResolution: 0,
        // lru-cache calls it before it forgets the key, so the key's remaining TTL can still be read.
        ...(onEarlyEviction === undefined
          ? {}
          : { dispose: (_record: KeyRecord, key: string, reason: string) => { if (reason === 'evict' && records.getRemainingTTL(key) > 0) onEarlyEviction() } })
      })
      return records
    }
    this.#now = now
    this.#maxBytes = maxBytes
    this.#ownerOf = ownerOf
  }

  #recordsOf (key: string): LRUCache<string, KeyRecord> {
    const owner = this.#ownerOf(key)
    let records = this.#owners.get(owner)
    if (records === undefined) {
      records = this.#newOwnerRecords()
      this.#owners.set(owner, records)
    }
    return records
  }

  #totalSize (): number {
    let total = 0
    for (const records of this.#owners.values()) total += records.calculatedSize
    return total
  }

  /** Evicts until all the answers fit the bound together: expired ones, then as the class says. */
  #fitTheBound (storing: LRUCache<string, KeyRecord>): void {
    let total = this.#totalSize()
    if (total <= this.#maxBytes) return
    const now = this.#now()
    if (now - this.#purgedAt >= STALE_PURGE_INTERVAL_MS) {
      this.#purgedAt = now
      for (const records of this.#owners.values()) records.purgeStale()
      total = this.#totalSize()
    }
    while (total > this.#maxBytes) {
      let holding = 0
      for (const records of this.#owners.values()) if (records.size > 0) holding++
      const victim = storing.calculatedSize >= this.#maxBytes / holding ? storing : this.#largest()
      const before = victim.calculatedSize
      victim.pop()
      const freed = before - victim.calculatedSize
      if (freed <= 0) return
      total -= freed
    }
  }

  #largest (): LRUCache<string, KeyRecord> {
    let largest: LRUCache<string, KeyRecord> | undefined
    for (const records of this.#owners.values()) {
      if (largest === undefined || records.calculatedSize > largest.calculatedSize) largest = records
    }
    return largest!
  }

  async claim (key: string, fingerprint: string, { runningMs, keptMs = runningMs, token }: ClaimOptions): Promise<ClaimResult> {
    const now = this.#now()
    const held = this.#claims.get(key)
    if (held !== undefined && held.keptUntil > now) return { state: held.runningUntil > now ? 'in_flight' : 'abandoned', fingerprint: held.fingerprint }
    const existing = this.#recordsOf(key).get(key)
    if (existing !== undefined) return claimResultOf(existing, now)
    this.#claims.set(key, { fingerprint, token, runningUntil: now + runningMs, keptUntil: now + keptMs })
    if (this.#claims.size >= this.#sweepAt) this.#sweep(now)
    return { state: 'claimed' }
  }

  async complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    this.#claims.delete(key)
    const records = this.#recordsOf(key)
    records.set(key, { state: 'done', fingerprint, response }, { ttl: ttlMs })
    if (this.#owners.size > 1) this.#fitTheBound(records)
  }

  async ping (): Promise<void> {}

  async release (key: string, fingerprint: string, token?: string): Promise<void> {
    const claim = this.#claims.get(key)
    if (claim?.fingerprint === fingerprint && claim.token === token) this.#claims.delete(key)
  }

  /** How many claims it holds (lapsed ones until they are swept). */
  get claims (): number {
    return this.#claims.size
  }

  #sweep (now: number): void {
    for (const [key, claim] of this.#claims) {
      if (claim.keptUntil <= now) this.#claims.delete(key)
    }
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, 2 * this.#claims.size)
  }
}
