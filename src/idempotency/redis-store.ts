import type { Redis } from 'ioredis'
import { claimResultOf, IdempotencyStoreError, type ClaimResult, type IdempotencyStore, type KeyRecord, type StoredResponse } from './store.js'

const KEY_PREFIX = 'sms-gateway:idempotency:'
/** A key can expire between a failed SET NX and the GET that follows; one more round settles it. */
const CLAIM_ATTEMPTS = 2

/** Deletes the key only while it is still the same in-flight claim. */
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** Keys shared by every replica: the claim is one atomic SET NX PX. */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis

  constructor (redis: Redis) {
    this.#redis = redis
  }

  async claim (key: string, fingerprint: string, inFlightTtlMs: number): Promise<ClaimResult> {
    const inFlight = JSON.stringify({ state: 'in_flight', fingerprint } satisfies KeyRecord)
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const won = await this.#call(() => this.#redis.set(KEY_PREFIX + key, inFlight, 'PX', inFlightTtlMs, 'NX'))
      if (won === 'OK') return { state: 'claimed' }
      const existing = await this.#call(() => this.#redis.get(KEY_PREFIX + key))
      if (existing !== null) return claimResultOf(JSON.parse(existing) as KeyRecord)
    }
    throw new IdempotencyStoreError('the key kept changing while being claimed')
  }

  async complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const record = JSON.stringify({ state: 'done', fingerprint, response } satisfies KeyRecord)
    await this.#call(() => this.#redis.set(KEY_PREFIX + key, record, 'PX', ttlMs))
  }

  async release (key: string, fingerprint: string): Promise<void> {
    const inFlight = JSON.stringify({ state: 'in_flight', fingerprint } satisfies KeyRecord)
    await this.#call(() => this.#redis.eval(RELEASE_SCRIPT, 1, KEY_PREFIX + key, inFlight))
  }

  async #call<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw new IdempotencyStoreError(`redis: ${(error as Error).message}`)
    }
  }
}
