/** What is remembered of a finished request, to replay it byte for byte. */
export interface StoredResponse {
  statusCode: number
  contentType: string
  body: string
}

export type ClaimResult =
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  /** claimed by a request that ran past the longest a send can take without storing an answer: its gateway stopped mid-send, or its answer or release never reached the store */
  | { state: 'abandoned', fingerprint: string }
  | { state: 'done', fingerprint: string, response: StoredResponse }

/**
 * How long a claim lasts. For `runningMs` it stands for a request still running; after that, until
 * `keptMs`, for one whose gateway stopped before it could store an answer. A key must not send
 * again while its first request's outcome is unknown: the claim is kept as long as an answer
 * would be.
 */
export interface ClaimOptions {
  runningMs: number
  /** at least runningMs (the caller's to ensure); runningMs when not given */
  keptMs?: number
  /** names the request making the claim, so that only it can release the claim */
  token?: string
}

/**
 * Where Idempotency-Keys live. `claim` must be atomic: of two concurrent claims of one key,
 * exactly one wins. Every method rejects with IdempotencyStoreError when the store is unreachable.
 */
export interface IdempotencyStore {
  claim (key: string, fingerprint: string, options: ClaimOptions): Promise<ClaimResult>
  complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void>
  /** Forgets a claim whose request provably sent nothing, so the key may be used again: only the claim with this fingerprint and token. */
  release (key: string, fingerprint: string, token?: string): Promise<void>
  /** Resolves once the store answers at all; rejects when it does not (down, or stalled past its timeout). */
  ping (): Promise<void>
}

export class IdempotencyStoreError extends Error {
  override name = 'IdempotencyStoreError'

  /**
   * @param claimMayBeHeld a claim the store may have carried out though its answer never came
   * (it timed out, or the connection dropped with it on its way): the key may be held by this
   * request's claim, which only a release with its token frees. Never set when the claim provably
   * never reached the store or the store refused it, so that an outage leaves nothing to release.
   */
  constructor (message: string, readonly claimMayBeHeld = false) {
    super(message)
  }
}

/** The record kept per key, in memory or serialised in Redis. */
export type KeyRecord =
  /**
   * `token`: which request's claim it is, so only that request releases it; `runningUntil`: the
   * wall-clock time (ms) after which the request is taken for abandoned (absent in claims of
   * earlier versions, which lapse instead)
   */
  | { state: 'in_flight', fingerprint: string, token?: string, runningUntil?: number }
  | { state: 'done', fingerprint: string, response: StoredResponse }

export function claimResultOf (record: KeyRecord, now: number): ClaimResult {
  if (record.state === 'done') return { state: 'done', fingerprint: record.fingerprint, response: record.response }
  return { state: record.runningUntil !== undefined && record.runningUntil <= now ? 'abandoned' : 'in_flight', fingerprint: record.fingerprint }
}
