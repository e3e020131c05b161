import { ReplyError, type Redis } from 'ioredis'
import { claimResultOf, IdempotencyStoreError, type ClaimOptions, type ClaimResult, type IdempotencyStore, type KeyRecord, type StoredResponse } from './store.js'

const KEY_PREFIX = 'sms-gateway:idempotency:'
/** Where a released claim's token is remembered: `<key>:released:<token>`. */
const RELEASED_INFIX = ':released:'

/**
 * Claims the key unless it is held (then returns what holds it) or this very claim was released
 * already (returns 0): a claim that reached Redis late, on a connection the gateway had lost
 * while the command was on its way, after the gateway had released it on the next one, would
 * otherwise hold the key for good and have every retry told "outcome unknown", though nothing was
 * sent. KEYS: the key, its released-token marker (none without a token); ARGV: the claim, its PX.
 */
const CLAIM_SCRIPT = `
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return redis.call('GET', KEYS[1])`

/**
 * Deletes the key only while it is still the same request's in-flight claim: same body, same
 * token. Otherwise (the claim never came, or came and went) it remembers that this token's claim
 * is released, for as long as a claim lasts (ARGV[3]), so that the claim cannot come after.
 */
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and record.state == 'in_flight' and record.fingerprint == ARGV[1] and (record.token or '') == ARGV[2] then
    return redis.call('DEL', KEYS[1])
  end
end
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
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
 * Keys shared by every replica: the claim is one atomic script (SET NX PX, or what holds the key).
 * A claim carries the token of the request that made it, so only that request can release it. A
 * claim whose command failed here yet may have been carried out by Redis (timed out, or lost with
 * the connection) makes an error that says so, for the caller to release it until Redis answers: a
 * release sent only once, right behind the claim, is lost when the connection drops; and the
 * release leaves a marker that refuses the claim, should it reach Redis after. Claims say until
 * when their request runs in wall-clock time, as every replica reads them (the running time's
 * margin covers clocks apart).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis
  readonly #releasedMemoryMs: number

  /** @param releasedMemoryMs how long a released claim's token is remembered: as long as a claim may last */
  constructor (redis: Redis, releasedMemoryMs: number) {
    this.#redis = redis
    this.#releasedMemoryMs = releasedMemoryMs
  }

  async claim (key: string, fingerprint: string, { runningMs, keptMs = runningMs, token }: ClaimOptions): Promise<ClaimResult> {
    const inFlight = JSON.stringify({ state: 'in_flight', fingerprint, token, runningUntil: Date.now() + runningMs } satisfies KeyRecord)
    let held: unknown
    try {
      held = await this.#redis.eval(CLAIM_SCRIPT, 2, KEY_PREFIX + key, releasedMarker(key, token), inFlight, keptMs)
    } catch (error) {
      throw storeError(error, mayHaveBeenCarriedOut(error))
    }
    if (held === 1) return { state: 'claimed' }
    if (typeof held === 'string') return claimResultOf(JSON.parse(held) as KeyRecord, Date.now())
    // Only a claim sent again after its release: never one of a live request, whose token is new.
    throw new IdempotencyStoreError('this claim was released already')
  }

  async complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const record = JSON.stringify({ state: 'done', fingerprint, response } satisfies KeyRecord)
    await this.#call(() => this.#redis.set(KEY_PREFIX + key, record, 'PX', ttlMs))
  }

  async release (key: string, fingerprint: string, token?: string): Promise<void> {
    await this.#call(() => this.#redis.eval(RELEASE_SCRIPT, 2, KEY_PREFIX + key, releasedMarker(key, token), fingerprint, token ?? '', this.#releasedMemoryMs))
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

/** The key a released claim's token is remembered under; '' (none) for a claim without a token. */
function releasedMarker (key: string, token: string | undefined): string {
  return token === undefined || token === '' ? '' : `${KEY_PREFIX}${key}${RELEASED_INFIX}${token}`
}

function storeError (error: unknown, claimMayBeHeld = false): IdempotencyStoreError {
  return new IdempotencyStoreError(`redis: ${(error as Error).message}`, claimMayBeHeld)
}
