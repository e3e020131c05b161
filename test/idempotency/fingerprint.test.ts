import { createHash } from 'node:crypto'
import t from 'tap'
import { fingerprintRequest } from '../../src/idempotency/fingerprint.js'

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url')

t.test('a fingerprint is the SHA-256 of the method, the route and the body as JSON with sorted keys', async (t) => {
  const body = { to: ['+48500600700', '+48600700800'], text: 'Zażółć 🎉', flash: true, options: { b: [1, null, { d: 'x', c: 2 }], a: false } }
  const canonical = '{"flash":true,"options":{"a":false,"b":[1,null,{"c":2,"d":"x"}]},"text":"Zażółć 🎉","to":["+48500600700","+48600700800"]}'
  t.equal(fingerprintRequest('POST', '/sms', body), sha256(`POST /sms\n${canonical}`))
  t.equal(fingerprintRequest('POST', '/sms', 'x'), sha256('POST /sms\n"x"'))
  t.equal(fingerprintRequest('POST', '/sms', undefined), sha256('POST /sms\nnull'), 'no body hashes as null')
})

t.test('key order does not change a fingerprint; anything else does', async (t) => {
  const fingerprint = (body: unknown) => fingerprintRequest('POST', '/sms', body)
  const first = fingerprint({ text: 'Hi', to: ['+48500600700'], sender: 'Shop' })
  t.equal(fingerprint({ sender: 'Shop', to: ['+48500600700'], text: 'Hi' }), first)
  t.not(fingerprint({ sender: 'Shop', to: ['+48500600701'], text: 'Hi' }), first, 'another recipient')
  t.not(fingerprint({ sender: 'Shop', to: '+48500600700', text: 'Hi' }), first, 'a string is not a list of one (the route spells both alike first)')
  t.not(fingerprint({ sender: 'Shop', to: ['+48500600700'], text: 'Hi', flash: false }), first, 'a field more')
  t.not(fingerprintRequest('PUT', '/sms', { sender: 'Shop', to: ['+48500600700'], text: 'Hi' }), first, 'another method')
  t.not(fingerprint({ list: ['1', 2] }), fingerprint({ list: [1, '2'] }), 'a number is not its digits')
})

t.test('a long body is hashed in pieces to the digest of its whole canonical text', async (t) => {
  // Longer than a hashed piece many times over, and with characters beyond ASCII at its seams.
  const to = Array.from({ length: 20_000 }, (_, index) => `+48${500_000_000 + index}`)
  const uniqueId = Array.from({ length: 20_000 }, (_, index) => `zażółć-${index}`)
  const mixed = Array.from({ length: 3000 }, (_, index) => index % 2 === 0 ? { n: index, ż: 'ł' } : `ę${index}`)
  const body = { uniqueId, to, text: 'Wiadomość', mixed }
  const canonical = `{"mixed":${JSON.stringify(mixed.map((item) => typeof item === 'string' ? item : { n: item.n, ż: item.ż }))},"text":"Wiadomość","to":${JSON.stringify(to)},"uniqueId":${JSON.stringify(uniqueId)}}`
  t.equal(fingerprintRequest('POST', '/sms', body), sha256(`POST /sms\n${canonical}`))
})
