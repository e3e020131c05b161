import t from 'tap'
import { createHmac, randomBytes } from 'node:crypto'
import { DeliveryReportVerifier, DeliveryUrlIssuer, DLR_PLACEHOLDERS, hmacSha256, ISSUED_TIME_RESOLUTION_MS, signDeliveryUrl, verifyDeliveryQuery } from '../../src/dlr/signing.js'

const SECRET = 'a-long-random-test-secret'
const SENT_AT = Date.UTC(2024, 4, 1, 10, 0, 0)
const EXPIRES_AT = SENT_AT + 7 * 24 * 60 * 60 * 1000
const NOW = SENT_AT + 60_000

/** What the provider does: fill the placeholders in, then call the URL. */
function deliver (signedUrl: string, values = { id: 'abc123', state: 'delivered', date: '2024-05-01 12:00:05', reason: '' }): Record<string, string | string[]> {
  const called = signedUrl
    .replace(DLR_PLACEHOLDERS.id, encodeURIComponent(values.id))
    .replace(DLR_PLACEHOLDERS.state, encodeURIComponent(values.state))
    .replace(DLR_PLACEHOLDERS.date, encodeURIComponent(values.date))
    .replace(DLR_PLACEHOLDERS.reason, encodeURIComponent(values.reason))
  const query: Record<string, string | string[]> = {}
  for (const [key, value] of new URL(called).searchParams) {
    const previous = query[key]
    query[key] = previous === undefined ? value : [previous, value].flat()
  }
  return query
}

t.test('the signed URL keeps the placeholders literal', async (t) => {
  const url = signDeliveryUrl('https://gw.example.com/', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT })
  t.match(url, /^https:\/\/gw\.example\.com\/dlr\?t=[0-9a-z]+&e=[0-9a-z]+&sig=[\w-]{43}&smsid=#SMSID#&stan=#STAN#&data=#DATA#&przyczyna=#PRZYCZYNA#$/)
  t.ok(url.includes(`?t=${SENT_AT.toString(36)}&e=${EXPIRES_AT.toString(36)}&`))
  t.equal(decodeURIComponent(url.replaceAll('+', ' ')), url, 'a URL-decode by the provider leaves it as it is')
  t.equal(
    signDeliveryUrl('https://gw.example.com/sms///', SECRET, {}).split('?')[0],
    'https://gw.example.com/sms/dlr',
    'a path prefix is kept and trailing slashes dropped'
  )
})

t.test('the signature is HMAC-SHA256 over version, t and e only', async (t) => {
  const url = signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT })
  const expected = createHmac('sha256', SECRET)
    .update(`v1\n${SENT_AT.toString(36)}\n${EXPIRES_AT.toString(36)}`)
    .digest('base64url')
  t.ok(url.includes(`&sig=${expected}&`))
})

t.test('round trip', async (t) => {
  const url = signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT })
  t.same(verifyDeliveryQuery(deliver(url), SECRET, NOW), { ok: true, sentAt: SENT_AT })
  t.same(verifyDeliveryQuery(deliver(url), SECRET, EXPIRES_AT), { ok: true, sentAt: SENT_AT }, 'valid up to expiry')
  const other = deliver(url, { id: 'zzz', state: 'undelivered', date: '2024-05-02 00:00:00', reason: 'wrong_number' })
  t.same(verifyDeliveryQuery(other, SECRET, NOW), { ok: true, sentAt: SENT_AT }, 'provider values are not signed')
})

t.test('a reason the provider leaves unfilled cuts nothing signed off the URL', async (t) => {
  const url = signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT })
  // '#' starts a fragment: an HTTP client requests only what comes before it.
  const called = new URL(url.replace(DLR_PLACEHOLDERS.id, 'abc123').replace(DLR_PLACEHOLDERS.state, 'delivered').replace(DLR_PLACEHOLDERS.date, '2024-05-01%2012%3A00%3A05'))
  t.equal(called.hash, DLR_PLACEHOLDERS.reason)
  const query = Object.fromEntries(called.searchParams)
  t.same(query, { t: SENT_AT.toString(36), e: EXPIRES_AT.toString(36), sig: query['sig'], smsid: 'abc123', stan: 'delivered', data: '2024-05-01 12:00:05', przyczyna: '' })
  t.same(verifyDeliveryQuery(query, SECRET, NOW), { ok: true, sentAt: SENT_AT })
})

t.test('the panel URL has neither t nor e and still verifies', async (t) => {
  const url = signDeliveryUrl('https://gw.example.com', SECRET, {})
  t.notOk(/[?&](t|e)=/.test(url))
  t.same(verifyDeliveryQuery(deliver(url), SECRET, NOW), { ok: true })
})

t.test('only one of t and e', async (t) => {
  const sentOnly = signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT })
  t.notOk(/[?&]e=/.test(sentOnly))
  t.same(verifyDeliveryQuery(deliver(sentOnly), SECRET, NOW), { ok: true, sentAt: SENT_AT })
  const expiresOnly = signDeliveryUrl('https://gw.example.com', SECRET, { expiresAt: EXPIRES_AT })
  t.notOk(/[?&]t=/.test(expiresOnly))
  t.same(verifyDeliveryQuery(deliver(expiresOnly), SECRET, NOW), { ok: true })
  t.same(verifyDeliveryQuery(deliver(expiresOnly), SECRET, EXPIRES_AT + 1), { ok: false, reason: 'expired' })
})

t.test('tampering with any signed field is a bad signature', async (t) => {
  const query = deliver(signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT }))
  const badSignature = { ok: false, reason: 'bad_signature' }
  t.same(verifyDeliveryQuery({ ...query, t: (SENT_AT + 1).toString(36) }, SECRET, NOW), badSignature, 't')
  t.same(verifyDeliveryQuery({ ...query, e: (EXPIRES_AT + 1).toString(36) }, SECRET, NOW), badSignature, 'e')
  t.same(verifyDeliveryQuery({ ...query, t: `0${SENT_AT.toString(36)}` }, SECRET, NOW), badSignature, 't with a leading zero')
  const { t: _t, ...withoutT } = query
  t.same(verifyDeliveryQuery(withoutT, SECRET, NOW), badSignature, 't removed')
  const { e: _e, ...withoutE } = query
  t.same(verifyDeliveryQuery(withoutE, SECRET, NOW), badSignature, 'e removed to dodge expiry')
  const sig = query['sig'] as string
  const flipped = sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A')
  t.same(verifyDeliveryQuery({ ...query, sig: flipped }, SECRET, NOW), badSignature, 'sig')
  t.same(verifyDeliveryQuery({ ...query, sig: sig.toUpperCase() === sig ? sig.toLowerCase() : sig.toUpperCase() }, SECRET, NOW), badSignature, 'sig in another case')
  t.same(verifyDeliveryQuery(query, 'another-secret', NOW), badSignature, 'wrong secret')
})

t.test('a signature that cannot be one the gateway issued is foreign, not a bad one of ours', async (t) => {
  const query = deliver(signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT }))
  const sig = query['sig'] as string
  const foreign = { ok: false, reason: 'foreign_signature' }
  for (const [name, forged] of [
    ['shortened', sig.slice(1)],
    ['lengthened', `${sig}A`],
    ['padded', `${sig}=`],
    ['empty', ''],
    ['anyone\'s ?sig=x', 'x'],
    ['standard base64', `${sig.slice(0, -1)}+`],
    ['hex of the right length', 'f'.repeat(64)]
  ] as const) {
    t.same(verifyDeliveryQuery({ ...query, sig: forged }, SECRET, NOW), foreign, name)
  }
  t.same(verifyDeliveryQuery({ sig: 'x' }, SECRET, NOW), foreign, 'without t and e, as a panel URL has none')
  t.same(verifyDeliveryQuery({ ...query, sig: 'A'.repeat(43) }, SECRET, NOW), { ok: false, reason: 'bad_signature' }, 'our shape, not our signature')
})

t.test('expired', async (t) => {
  const query = deliver(signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT }))
  t.same(verifyDeliveryQuery(query, SECRET, EXPIRES_AT + 1), { ok: false, reason: 'expired' })
  const tampered = { ...query, e: (EXPIRES_AT * 2).toString(36) }
  t.same(verifyDeliveryQuery(tampered, SECRET, EXPIRES_AT + 1), { ok: false, reason: 'bad_signature' },
    'the signature is checked before expiry')
})

t.test('malformed queries', async (t) => {
  const query = deliver(signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT }))
  const malformed = { ok: false, reason: 'malformed' }
  const { sig: _sig, ...withoutSig } = query
  t.same(verifyDeliveryQuery(withoutSig, SECRET, NOW), malformed, 'missing sig')
  t.same(verifyDeliveryQuery({}, SECRET, NOW), malformed, 'empty query')
  t.same(verifyDeliveryQuery({ ...query, sig: [query['sig'], query['sig']] }, SECRET, NOW), malformed, 'repeated sig')
  t.match(verifyDeliveryQuery({ ...query, stan: ['delivered', 'undelivered'] }, SECRET, NOW), { ok: true }, 'a repeated report field is not the signature\'s business (the route refuses it as a malformed report)')
  t.same(verifyDeliveryQuery({ ...query, t: 42 }, SECRET, NOW), malformed, 'non-string value')
  t.same(verifyDeliveryQuery({ ...query, t: '' }, SECRET, NOW), malformed, 'empty t')
  t.same(verifyDeliveryQuery({ ...query, t: 'ABC' }, SECRET, NOW), malformed, 'upper-case t')
  t.same(verifyDeliveryQuery({ ...query, e: '-1' }, SECRET, NOW), malformed, 'negative e')
  t.same(verifyDeliveryQuery({ ...query, e: 'z'.repeat(20) }, SECRET, NOW), malformed, 'e beyond safe integers')
  const duplicated = deliver(`${signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT })}&t=0`)
  t.same(verifyDeliveryQuery(duplicated, SECRET, NOW), malformed, 'a parameter repeated in the URL')
  t.same(verifyDeliveryQuery({ ...query, extra: undefined }, SECRET, NOW), { ok: true, sentAt: SENT_AT },
    'an absent value is not malformed')
})

t.test('bad inputs to signing are programming errors', async (t) => {
  t.throws(() => signDeliveryUrl('https://gw.example.com', '', {}), RangeError, 'empty secret')
  t.throws(() => verifyDeliveryQuery({}, '', NOW), RangeError, 'empty secret')
  for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
    t.throws(() => signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: value }), RangeError, `sentAt ${value}`)
    t.throws(() => signDeliveryUrl('https://gw.example.com', SECRET, { expiresAt: value }), RangeError, `expiresAt ${value}`)
  }
  t.ok(signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: 0 }).includes('?t=0&'), 'zero is a time')
})

t.test('a verifier remembers authentic signatures and judges exactly as verifyDeliveryQuery', async (t) => {
  const url = signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT, expiresAt: EXPIRES_AT })
  const query = deliver(url)
  const sig = query['sig'] as string
  const { t: _t, ...withoutT } = query
  const { e: _e, ...withoutE } = query
  const { sig: _sig, ...withoutSig } = query
  const cases: Array<[string, Record<string, unknown>, number]> = [
    ['genuine', query, NOW],
    ['another report of the same URL', deliver(url, { id: 'zzz', state: 'undelivered', date: '2024-05-02 00:00:00', reason: '' }), NOW],
    ['genuine, expired', query, EXPIRES_AT + 1],
    ['t changed', { ...query, t: (SENT_AT + 1).toString(36) }, NOW],
    ['e extended', { ...query, e: (EXPIRES_AT * 2).toString(36) }, EXPIRES_AT + 1],
    ['t removed', withoutT, NOW],
    ['e removed', withoutE, EXPIRES_AT + 1],
    ['sig altered', { ...query, sig: sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A') }, NOW],
    ['sig missing', withoutSig, NOW],
    ['sig repeated', { ...query, sig: [sig, sig] }, NOW],
    ['t empty', { ...query, t: '' }, NOW]
  ]
  const verifier = new DeliveryReportVerifier(SECRET)
  for (const round of ['first sight', 'remembered']) {
    for (const [name, candidate, now] of cases) {
      t.same(verifier.verify(candidate, now), verifyDeliveryQuery(candidate, SECRET, now), `${name} (${round})`)
    }
  }
  t.equal(verifier.remembered, 1, 'only the genuine signature is remembered')
  t.same(new DeliveryReportVerifier('another-secret').verify(query, NOW), { ok: false, reason: 'bad_signature' }, 'per secret')
})

t.test('a verifier never holds more signatures than its capacity', async (t) => {
  const verifier = new DeliveryReportVerifier(SECRET, 3)
  for (let i = 0; i < 10; i++) {
    const query = deliver(signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: SENT_AT + i, expiresAt: EXPIRES_AT }))
    t.same(verifier.verify(query, NOW), { ok: true, sentAt: SENT_AT + i })
    t.equal(verifier.remembered, Math.min(i + 1, 3))
  }
  for (let i = 0; i < 100; i++) verifier.verify({ sig: `forged-${i}`, t: SENT_AT.toString(36) }, NOW)
  t.equal(verifier.remembered, 3, 'forgeries take no room')
  t.throws(() => new DeliveryReportVerifier(''), RangeError, 'empty secret')
})

t.test('an issuer signs once per tenth of a second, from the start of it', async (t) => {
  const issuer = new DeliveryUrlIssuer('https://gw.example.com', SECRET, 60_000)
  const slot = SENT_AT + 1_200
  const first = issuer.urlFor(slot + 37)
  t.equal(first, signDeliveryUrl('https://gw.example.com', SECRET, { sentAt: slot, expiresAt: slot + 60_000 }), 'rounded down to the tenth')
  t.equal(issuer.urlFor(slot + ISSUED_TIME_RESOLUTION_MS - 1), first, 'shared within the tenth')
  const next = issuer.urlFor(slot + ISSUED_TIME_RESOLUTION_MS)
  t.not(next, first, 'a new tenth, a new URL')
  t.same(verifyDeliveryQuery(deliver(next), SECRET, slot + 60_000), { ok: true, sentAt: slot + ISSUED_TIME_RESOLUTION_MS })
  t.equal(issuer.urlFor(slot + 5), first, 'an earlier slot again (a clock step back) gets its own URL again')
  t.throws(() => new DeliveryUrlIssuer('https://gw.example.com', '', 1), RangeError)
})

t.test('hmacSha256 is HMAC-SHA256, for keys shorter than, equal to and longer than a block', async (t) => {
  const keys = [
    'k',
    SECRET,
    'x'.repeat(63),
    'y'.repeat(64),
    'z'.repeat(65),
    'ż'.repeat(32), // 64 bytes in UTF-8
    'ż'.repeat(33), // 66 bytes
    randomBytes(48).toString('base64'), // what the README tells operators to use: 64 characters
    randomBytes(300).toString('base64')
  ]
  const messages = ['', 'v1\nabc\ndef', 'zażółć', 'm'.repeat(200), ...Array.from({ length: 20 }, () => randomBytes(40).toString('latin1'))]
  for (const key of keys) {
    const sign = hmacSha256(key)
    for (const message of messages) {
      t.equal(sign(message), createHmac('sha256', key).update(message).digest('base64url'), `key of ${Buffer.byteLength(key)} bytes, message of ${message.length} characters`)
    }
  }
})
