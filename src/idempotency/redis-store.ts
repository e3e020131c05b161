import { ReplyError, type Redis } from 'ioredis'
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

/** What ioredis rejects a command with, without writing it, while its connection is down (enableOfflineQueue false). */
const NOT_WRITTEN = "Stream isn't writeable and enableOfflineQueue options is false"

/**
 * Whether Redis may have carried out a command that failed here: anything but a refusal by Redis
 * (a ReplyError: nothing was stored) or a command ioredis never wrote. A timeout counts: Redis may
 * carry the command out late, or have carried it out with its answer lost along with the
 * connection. ioredis exports no class for these errors, so the unwritten one is told by its message.
 */
export function mayHaveBeenCarriedOut (error: unknown): boolean {
  return !(error instanceof ReplyError) && !(error instanceof Error && error.message === NOT_WRITTEN)
}

/**
 * Keys shared by every replica: the claim is one atomic SET NX PX. A claim carries the token of the
 * request that made it, so only that request can release it. A claim whose SET failed here yet may
 * have been carried out by Redis (timed out, or lost with the connection) makes an error that says
 * so, for the caller to release it until Redis answers: a release sent only once, right behind the
 * SET, is lost when the connection drops. Claims say until when their request runs in wall-clock
 * time, as every replica reads them (the running time's margin covers clocks apart).
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
        throw storeError(error, mayHaveBeenCarriedOut(error))
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

  async ping (): Promise<void> {
    await this.#call(() => this.#redis.ping())
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
