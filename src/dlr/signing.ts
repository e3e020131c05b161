import { hash, timingSafeEqual } from 'node:crypto'

export interface SignedFields {
  /** ms since epoch */
  sentAt?: number
  /** ms since epoch */
  expiresAt?: number
}

export type Verification =
  | { ok: true, sentAt?: number }
  | { ok: false, reason: 'bad_signature' | 'foreign_signature' | 'expired' | 'malformed' }

/** @see SerwerSMS HTTPS API v2, messages/send_sms — `dlr_url` parameters the provider fills in */
export const DLR_PLACEHOLDERS = { id: '#SMSID#', state: '#STAN#', date: '#DATA#', reason: '#PRZYCZYNA#' }

const SIGNATURE_VERSION = 'v1'
const TIME_RADIX = 36
const BASE36_INTEGER = /^[0-9a-z]+$/
/** What every signature we issue looks like: an HMAC-SHA256 (32 bytes) in unpadded base64url. */
const SIGNATURE_SHAPE = /^[\w-]{43}$/
const TRAILING_SLASHES = /\/+$/

// Built by hand: URLSearchParams would percent-encode the '#' the provider looks for.
const PROVIDER_QUERY =
  `smsid=${DLR_PLACEHOLDERS.id}&stan=${DLR_PLACEHOLDERS.state}` +
  `&data=${DLR_PLACEHOLDERS.date}&przyczyna=${DLR_PLACEHOLDERS.reason}`

type Rejection = Extract<Verification, { ok: false }>

function reject (reason: Rejection['reason']): Rejection {
  return { ok: false, reason }
}

function assertUsableSecret (secret: string): void {
  if (secret.length === 0) throw new RangeError('the delivery-report signing secret is empty')
}

function encodeTime (name: keyof SignedFields, value: number | undefined): string {
  if (value === undefined) return ''
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer of milliseconds, got ${value}`)
  }
  return value.toString(TIME_RADIX)
}

/** SHA-256's block size in bytes: B in RFC 2104. */
const SHA256_BLOCK_BYTES = 64
const INNER_PAD = 0x36
const OUTER_PAD = 0x5c

/** Signs a message with one key; see hmacSha256. */
export type Signer = (message: string) => string

/**
 * HMAC-SHA256 (RFC 2104) with one key, base64url: two one-shot hashes over the key's pads,
 * computed once. `createHmac` makes a stream object and a native handle for every signature;
 * with every report signed apart, it cost ~10% more CPU per report than this (bench/README.md,
 * third round).
 * The tests check it against `createHmac` for keys shorter than, equal to and longer than a block.
 */
export function hmacSha256 (key: string): Signer {
  let keyBytes: Buffer = Buffer.from(key, 'utf8')
  // A key longer than a block is replaced by its hash (RFC 2104, section 2).
  if (keyBytes.length > SHA256_BLOCK_BYTES) keyBytes = hash('sha256', keyBytes, 'buffer') as unknown as Buffer
  const block = Buffer.alloc(SHA256_BLOCK_BYTES)
  keyBytes.copy(block)
  const inner = Buffer.from(block.map((byte) => byte ^ INNER_PAD))
  const outer = Buffer.from(block.map((byte) => byte ^ OUTER_PAD))
  return (message) => {
    const innerDigest = hash('sha256', Buffer.concat([inner, Buffer.from(message, 'utf8')]), 'buffer') as unknown as Buffer
    return hash('sha256', Buffer.concat([outer, innerDigest]), 'base64url')
  }
}

/**
 * The provider fills its values in after we sign, so only ours can be covered: the signature
 * proves the caller holds a URL we issued, and `e` bounds how long that URL can be replayed.
 */
function computeSignature (sign: Signer, t: string, e: string): string {
  return sign(`${SIGNATURE_VERSION}\n${t}\n${e}`)
}

export function signDeliveryUrl (publicUrl: string, secret: string, fields: SignedFields): string {
  assertUsableSecret(secret)
  return signUrlWith(publicUrl, hmacSha256(secret), fields)
}

/**
 * Our fields come first and the provider's last, the reason at the very end: a placeholder the
 * provider leaves unfilled (no reason for a delivered message) starts with `#`, which makes the
 * rest of the URL a fragment that HTTP clients never send. With the signature ahead of them and
 * the reason last, such a report still arrives signed, its reason absent.
 */
function signUrlWith (publicUrl: string, sign: Signer, fields: SignedFields): string {
  const t = encodeTime('sentAt', fields.sentAt)
  const e = encodeTime('expiresAt', fields.expiresAt)
  let signed = ''
  if (t !== '') signed += `t=${t}&`
  if (e !== '') signed += `e=${e}&`
  return `${publicUrl.replace(TRAILING_SLASHES, '')}/dlr?${signed}sig=${computeSignature(sign, t, e)}&${PROVIDER_QUERY}`
}

/** Send times in issued URLs are rounded down to this: every send of the same tenth of a second shares one URL. */
export const ISSUED_TIME_RESOLUTION_MS = 100

/**
 * Issues the signed URL each POST /sms gives the provider, signing once per tenth of a second
 * instead of once per call: under load that is one HMAC for hundreds of sends, and their reports
 * share a signature the DeliveryReportVerifier then remembers. The measured delivery latency
 * grows by less than 0.1 s, a tenth of the smallest `delivery_seconds` bucket.
 */
export class DeliveryUrlIssuer {
  readonly #publicUrl: string
  readonly #sign: Signer
  readonly #ttlMs: number
  #lastSlot = Number.NaN
  #lastUrl = ''

  constructor (publicUrl: string, secret: string, ttlMs: number) {
    assertUsableSecret(secret)
    this.#publicUrl = publicUrl
    this.#sign = hmacSha256(secret)
    this.#ttlMs = ttlMs
  }

  /** The URL for messages that may leave from `sentAt` (ms since epoch) on. */
  urlFor (sentAt: number): string {
    const slot = sentAt - (sentAt % ISSUED_TIME_RESOLUTION_MS)
    if (slot !== this.#lastSlot) {
      this.#lastUrl = signUrlWith(this.#publicUrl, this.#sign, { sentAt: slot, expiresAt: slot + this.#ttlMs })
      this.#lastSlot = slot
    }
    return this.#lastUrl
  }
}

/** undefined when absent, null when present but not a base-36 integer */
function decodeTime (value: string | undefined): number | undefined | null {
  if (value === undefined) return undefined
  if (!BASE36_INTEGER.test(value)) return null
  const decoded = Number.parseInt(value, TIME_RADIX)
  return Number.isSafeInteger(decoded) ? decoded : null
}

function isSignatureEqual (given: string, expected: string): boolean {
  const givenBytes = Buffer.from(given)
  const expectedBytes = Buffer.from(expected)
  return givenBytes.length === expectedBytes.length && timingSafeEqual(givenBytes, expectedBytes)
}

/** Every query value must be a single string: a repeated parameter is a tampering signal. */
export function verifyDeliveryQuery (query: Record<string, unknown>, secret: string, now: number): Verification {
  assertUsableSecret(secret)
  return verifyWith(query, hmacSha256(secret), now, undefined)
}

/** Signatures a verifier remembers as authentic; a bulk call's reports share one, so a few suffice. */
export const REMEMBERED_SIGNATURES = 1024

/** What a signature was found authentic for: the signed fields as they came, and their times. */
interface SignedTimes {
  t: string | undefined
  e: string | undefined
  sentAt: number | undefined
  expiresAt: number | undefined
}

/**
 * Signatures found authentic, each with the (t, e) it signs, oldest forgotten first. Keyed by the
 * signature alone, so that a report of a remembered URL neither builds a key nor decodes its times
 * again; its t and e must still be the ones remembered, or it is judged afresh. A ring of the keys
 * in the order they were added says which is oldest; the Map is never iterated (after deletions
 * from its front V8 walks over the deleted slots, which made every eviction slower than the HMAC
 * it saves).
 */
class AuthenticSignatures {
  readonly #bySignature = new Map<string, SignedTimes>()
  readonly #ring: Array<string | undefined>
  #next = 0

  constructor (capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`)
    this.#ring = new Array<string | undefined>(capacity).fill(undefined)
  }

  get size (): number { return this.#bySignature.size }

  /** The times of a remembered signature, when it came with the same t and e. */
  timesOf (sig: string, t: string | undefined, e: string | undefined): SignedTimes | undefined {
    const known = this.#bySignature.get(sig)
    return known !== undefined && known.t === t && known.e === e ? known : undefined
  }

  add (sig: string, signed: SignedTimes): void {
    // Only a signature not remembered is added: the same one with other t and e would not verify.
    const oldest = this.#ring[this.#next]
    if (oldest !== undefined) this.#bySignature.delete(oldest)
    this.#ring[this.#next] = sig
    this.#next = (this.#next + 1) % this.#ring.length
    this.#bySignature.set(sig, signed)
  }
}

/**
 * verifyDeliveryQuery for one secret, remembering the signatures it found authentic. Every report
 * of one POST /sms carries the same signed URL — 10,000 of them after a bulk call, arriving in a
 * burst — so the HMAC is computed once per call instead of once per report (bench/README.md).
 * Only authentic signatures are remembered, so forgeries cannot fill the memory; the expiry is
 * still checked for every report.
 */
export class DeliveryReportVerifier {
  readonly #sign: Signer
  readonly #authentic: AuthenticSignatures

  constructor (secret: string, capacity = REMEMBERED_SIGNATURES) {
    assertUsableSecret(secret)
    this.#sign = hmacSha256(secret)
    this.#authentic = new AuthenticSignatures(capacity)
  }

  /** How many signatures it holds as authentic. */
  get remembered (): number {
    return this.#authentic.size
  }

  verify (query: Record<string, unknown>, now: number): Verification {
    return verifyWith(query, this.#sign, now, this.#authentic)
  }
}

const isOptionalText = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string'

function verifyWith (query: Record<string, unknown>, sign: Signer, now: number, authentic: AuthenticSignatures | undefined): Verification {
  // Only the signature's own fields: a report field the provider repeats at a URL we signed is the
  // provider's payload gone wrong (the route refuses it as malformed), not a request from elsewhere.
  const { sig, t, e } = query
  if (typeof sig !== 'string' || !isOptionalText(t) || !isOptionalText(e)) return reject('malformed')
  let signed = authentic?.timesOf(sig, t, e)
  if (signed === undefined) {
    const sentAt = decodeTime(t)
    const expiresAt = decodeTime(e)
    if (sentAt === null || expiresAt === null) return reject('malformed')
    // Cannot be one of ours: a request from elsewhere, not a URL we issued gone wrong.
    if (!SIGNATURE_SHAPE.test(sig)) return reject('foreign_signature')
    if (!isSignatureEqual(sig, computeSignature(sign, t ?? '', e ?? ''))) return reject('bad_signature')
    signed = { t, e, sentAt, expiresAt }
    authentic?.add(sig, signed)
  }
  const { sentAt, expiresAt } = signed
  if (expiresAt !== undefined && expiresAt < now) return reject('expired')
  return sentAt === undefined ? { ok: true } : { ok: true, sentAt }
}
