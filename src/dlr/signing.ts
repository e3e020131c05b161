import { createHmac, timingSafeEqual } from 'node:crypto'

export interface SignedFields {
  /** ms since epoch */
  sentAt?: number
  /** ms since epoch */
  expiresAt?: number
}

export type Verification =
  | { ok: true, sentAt?: number }
  | { ok: false, reason: 'bad_signature' | 'expired' | 'malformed' }

/** @see SerwerSMS HTTPS API v2, messages/send_sms — `dlr_url` parameters the provider fills in */
export const DLR_PLACEHOLDERS = { id: '#SMSID#', state: '#STAN#', date: '#DATA#', reason: '#PRZYCZYNA#' }

const SIGNATURE_VERSION = 'v1'
const TIME_RADIX = 36
const BASE36_INTEGER = /^[0-9a-z]+$/
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

/**
 * The provider fills its values in after we sign, so only ours can be covered: the signature
 * proves the caller holds a URL we issued, and `e` bounds how long that URL can be replayed.
 */
function computeSignature (secret: string, t: string, e: string): string {
  return createHmac('sha256', secret).update(`${SIGNATURE_VERSION}\n${t}\n${e}`).digest('base64url')
}

export function signDeliveryUrl (publicUrl: string, secret: string, fields: SignedFields): string {
  assertUsableSecret(secret)
  const t = encodeTime('sentAt', fields.sentAt)
  const e = encodeTime('expiresAt', fields.expiresAt)
  let url = `${publicUrl.replace(TRAILING_SLASHES, '')}/dlr?${PROVIDER_QUERY}`
  if (t !== '') url += `&t=${t}`
  if (e !== '') url += `&e=${e}`
  return `${url}&sig=${computeSignature(secret, t, e)}`
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
  for (const value of Object.values(query)) {
    if (value !== undefined && typeof value !== 'string') return reject('malformed')
  }
  const { sig, t, e } = query as Record<string, string | undefined>
  if (sig === undefined) return reject('malformed')
  const sentAt = decodeTime(t)
  const expiresAt = decodeTime(e)
  if (sentAt === null || expiresAt === null) return reject('malformed')
  if (!isSignatureEqual(sig, computeSignature(secret, t ?? '', e ?? ''))) {
    return reject('bad_signature')
  }
  if (expiresAt !== undefined && expiresAt < now) return reject('expired')
  return sentAt === undefined ? { ok: true } : { ok: true, sentAt }
}
