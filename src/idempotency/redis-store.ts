import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { claimResultOf, IdempotencyStoreError, type ClaimResult, type IdempotencyStore, type KeyRecord, type StoredResponse } from './store.js'

const KEY_PREFIX = 'sms-gateway:idempotency:'
/** A key can expire between a failed SET NX and the GET that follows; one more round settles it. */
const CLAIM_ATTEMPTS = 2

/** Deletes the key only while it is still the same in-flight claim, token and all. */
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/**
 * Keys shared by every replica: the claim is one atomic SET NX PX. Each claim carries a token of
 * its own, so only the request that made a claim can release it — and a claim whose SET timed out
 * on this side, yet may still be carried out by Redis, is released right behind it instead of
 * answering 409 to the caller's retry until it lapses.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis
  /** The in-flight record of each claim this process holds, by key, to release exactly that one. */
  readonly #claims = new Map<string, string>()

  constructor (redis: Redis) {
    this.#redis = redis
  }

  async claim (key: string, fingerprint: string, inFlightTtlMs: number): Promise<ClaimResult> {
    const inFlight = JSON.stringify({ state: 'in_flight', fingerprint, token: randomUUID() } satisfies KeyRecord)
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      let won: string | null
      try {
        won = await this.#call(() => this.#redis.set(KEY_PREFIX + key, inFlight, 'PX', inFlightTtlMs, 'NX'))
      } catch (error) {
        // Queued behind the SET on the same connection: if Redis carries the SET out late, this undoes it.
        this.#redis.eval(RELEASE_SCRIPT, 1, KEY_PREFIX + key, inFlight).catch(() => {})
        throw error
      }
      if (won === 'OK') {
        this.#claims.set(key, inFlight)
        return { state: 'claimed' }
      }
      const existing = await this.#call(() => this.#redis.get(KEY_PREFIX + key))
      if (existing !== null) return claimResultOf(JSON.parse(existing) as KeyRecord)
    }
    throw new IdempotencyStoreError('the key kept changing while being claimed')
  }

  async complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const record = JSON.stringify({ state: 'done', fingerprint, response } satisfies KeyRecord)
    await this.#call(() => this.#redis.set(KEY_PREFIX + key, record, 'PX', ttlMs))
    this.#claims.delete(key)
  }

  async release (key: string, fingerprint: string): Promise<void> {
    const inFlight = this.#claims.get(key)
    if (inFlight === undefined || (JSON.parse(inFlight) as KeyRecord).fingerprint !== fingerprint) return
    await this.#call(() => this.#redis.eval(RELEASE_SCRIPT, 1, KEY_PREFIX + key, inFlight))
    this.#claims.delete(key)
  }

  async #call<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw new IdempotencyStoreError(`redis: ${(error as Error).message}`)
    }
  }
}
