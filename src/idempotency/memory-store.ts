import { LRUCache } from 'lru-cache'
import { claimResultOf, type ClaimResult, type IdempotencyStore, type KeyRecord, type StoredResponse } from './store.js'

/** Stored response bodies may be megabytes (100,000 recipients); the cache is bounded by bytes too. */
export const MEMORY_STORE_MAX_BYTES = 256 * 1024 * 1024
const RECORD_OVERHEAD_BYTES = 256

/**
 * One process's keys: bounded by count and bytes, oldest evicted first, each kept for its TTL.
 * Replicas do not share it — set REDIS_URL for that.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records: LRUCache<string, KeyRecord>

  constructor (maxKeys: number, maxBytes = MEMORY_STORE_MAX_BYTES) {
    // Bounded by size alone (lru-cache preallocates for a `max` count, slowing every start):
    // no record counts less than maxBytes / maxKeys, so at most maxKeys fit.
    const smallestRecord = Math.max(RECORD_OVERHEAD_BYTES, Math.ceil(maxBytes / maxKeys))
    this.#records = new LRUCache<string, KeyRecord>({
      maxSize: maxBytes,
      sizeCalculation: (record) => Math.max(smallestRecord, RECORD_OVERHEAD_BYTES + (record.state === 'done' ? record.response.body.length : 0))
    })
  }

  async claim (key: string, fingerprint: string, inFlightTtlMs: number): Promise<ClaimResult> {
    const existing = this.#records.get(key)
    if (existing !== undefined) return claimResultOf(existing)
    this.#records.set(key, { state: 'in_flight', fingerprint }, { ttl: inFlightTtlMs })
    return { state: 'claimed' }
  }

  async complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    this.#records.set(key, { state: 'done', fingerprint, response }, { ttl: ttlMs })
  }

  async release (key: string, fingerprint: string): Promise<void> {
    const existing = this.#records.peek(key)
    if (existing?.state === 'in_flight' && existing.fingerprint === fingerprint) this.#records.delete(key)
  }
}
