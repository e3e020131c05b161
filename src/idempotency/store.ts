/** What is remembered of a finished request, to replay it byte for byte. */
export interface StoredResponse {
  statusCode: number
  contentType: string
  body: string
}

export type ClaimResult =
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'done', fingerprint: string, response: StoredResponse }

/**
 * Where Idempotency-Keys live. `claim` must be atomic: of two concurrent claims of one key,
 * exactly one wins. Every method rejects with IdempotencyStoreError when the store is unreachable.
 */
export interface IdempotencyStore {
  /** `token`: names the request making the claim, so that only it can release the claim */
  claim (key: string, fingerprint: string, inFlightTtlMs: number, token?: string): Promise<ClaimResult>
  complete (key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void>
  /** Forgets a claim whose request provably sent nothing, so the key may be used again: only the claim with this fingerprint and token. */
  release (key: string, fingerprint: string, token?: string): Promise<void>
}

export class IdempotencyStoreError extends Error {
  override name = 'IdempotencyStoreError'
}

/** The record kept per key, in memory or serialised in Redis. */
export type KeyRecord =
  /** `token`: which request's claim it is, so only that request releases it */
  | { state: 'in_flight', fingerprint: string, token?: string }
  | { state: 'done', fingerprint: string, response: StoredResponse }

export function claimResultOf (record: KeyRecord): ClaimResult {
  return record.state === 'in_flight'
    ? { state: 'in_flight', fingerprint: record.fingerprint }
    : { state: 'done', fingerprint: record.fingerprint, response: record.response }
}
