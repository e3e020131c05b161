import type { Redis } from 'ioredis'
import { claimResultOf, IdempotencyStoreError, type ClaimOptions, type ClaimResult, type IdempotencyStore, type KeyRecord, type StoredResponse } from './store.js'

const KEY_PREFIX = 'sms-gateway:idempotency:'
/** A key can expire between a failed SET NX and the GET that follows; one more round settles it. */
const CLAIM_ATTEMPTS = 2

/** Deletes the key only while it is still the same request's in-flight claim: same body, same token. */
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, record = pcall(cjson.decode, current)
if ok and type(record) == 'table' and record.state == 'in_flight' and record.fingerprint == ARGV[1] and (record.token or '') == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0`

/**
 * A command ioredis gave up on because its connection dropped (with maxRetriesPerRequest 0 it
 * flushes what is in flight; "Connection is closed." once it stops reconnecting). Not a refusal
 * by Redis (a ReplyError: nothing was stored), not a timeout (the connection still carries what
 * follows), not a command refused before it was written. ioredis exports no class for these two,
 * so they are told by their messages.
 */
export function lostWithConnection (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  return error.message.startsWith('Reached the max retries per request limit') || error.message === 'Connection is closed.'
}

/**
 * Keys shared by every replica: the claim is one atomic SET NX PX. A claim carries the token of the
 * request that made it, so only that request can release it — and a claim whose SET timed out on
 * this side, yet may still be carried out by Redis, is released right behind it instead of
 * answering 409 to the caller's retry until it lapses (and when the connection dropped under both,
 * the error says the claim may be held, for the caller to release it once Redis is back). Claims
 * say until when their request runs in wall-clock time, as every replica reads them (the running
 * time's margin covers clocks apart).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis

  constructor (redis: Redis) {
    this.#redis = redis
  }

  async claim (key: string, fingerprint: string, { runningMs, keptMs = runningMs, token }: ClaimOptions): Promise<ClaimResult> {
    const inFlight = JSON.stringify({ state: 'in_flight', fingerprint, token, runningUntil: Date.now() + runningMs } satisfies KeyRecord)
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      let won: string | null
      try {
        won = await this.#redis.set(KEY_PREFIX + key, inFlight, 'PX', keptMs, 'NX')
      } catch (error) {
        // Queued behind the SET on the same connection: if Redis carries the SET out late (it
        // timed out here), this undoes it. If the connection dropped with the SET on its way, this
        // goes nowhere, and the SET may have been carried out: the caller releases it later.
        this.#redis.eval(RELEASE_SCRIPT, 1, KEY_PREFIX + key, fingerprint, token ?? '').catch(() => {})
        throw storeError(error, lostWithConnection(error))
      }
      if (won === 'OK') return { state: 'claimed' }
      const existing = await this.#call(() => this.#redis.get(KEY_PREFIX + key))
      if (existing !== null) return claimResultOf(JSON.parse(existing) as KeyRecord, Date.now())
    }
    throw new IdempotencyStoreError('the key kept changing while being claimed')
  }

  async complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const record = JSON.stringify({ state: 'done', fingerprint, response } satisfies KeyRecord)
    await this.#call(() => this.#redis.set(KEY_PREFIX + key, record, 'PX', ttlMs))
  }

  async release (key: string, fingerprint: string, token?: string): Promise<void> {
    await this.#call(() => this.#redis.eval(RELEASE_SCRIPT, 1, KEY_PREFIX + key, fingerprint, token ?? ''))
  }

  async #call<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw storeError(error)
    }
  }
}

function storeError (error: unknown, claimMayBeHeld = false): IdempotencyStoreError {
  return new IdempotencyStoreError(`redis: ${(error as Error).message}`, claimMayBeHeld)
}
