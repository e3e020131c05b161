import t from 'tap'
import type { GatewayError } from '../../src/errors.js'
import { MAX_SEND_AT_AHEAD_MS, readOrder } from '../../src/sms/order.js'

const limits = { maxRecipients: 3, defaultSender: undefined }
const now = Date.parse('2026-11-25T12:00:00Z')

t.test('a body becomes an order; lists and single values alike', async (t) => {
  t.same(readOrder({ to: '+48500600700', text: 'x' }, limits, now), { to: ['+48500600700'], text: 'x' })
  t.same(readOrder({ to: ['a', 'b'], text: 'x', uniqueId: ['id1', 'id2'], flash: true, utf: false, sendAt: '2026-11-25T13:00:00Z', sender: 'FIRMA' }, limits, now), {
    to: ['a', 'b'], text: 'x', uniqueIds: ['id1', 'id2'], sender: 'FIRMA', flash: true, utf: false, sendAt: new Date('2026-11-25T13:00:00Z')
  })
  t.match(readOrder({ to: 'a', text: 'x' }, { ...limits, defaultSender: 'DEFAULT' }, now), { sender: 'DEFAULT' })
  t.notOk('sender' in readOrder({ to: 'a', text: 'x', sender: '' }, { ...limits, defaultSender: 'DEFAULT' }, now), 'an empty sender is none (ECO+), over the default')
  t.match(readOrder({ to: 'a', text: 'x', sendAt: '2026-11-25T11:57:00Z' }, limits, now), { sendAt: new Date('2026-11-25T11:57:00Z') }, 'a few minutes of clock skew are tolerated')
})

t.test('a text in decomposed Unicode is sent composed: the same text, and GSM-7 where its characters are', async (t) => {
  const decomposed = 'Gru\u0308\u00DFe'
  t.equal(readOrder({ to: 'a', text: decomposed }, limits, now).text, 'Gr\u00FC\u00DFe')
  t.equal(readOrder({ to: 'a', text: 'Za\u017C\u00F3\u0142\u0107' }, limits, now).text, 'Za\u017C\u00F3\u0142\u0107', 'composed text is left as it is')
  const { isGsm7 } = await import('../../src/sms/gsm7.js')
  t.notOk(isGsm7(decomposed), 'decomposed, it would need UCS-2')
  t.ok(isGsm7(readOrder({ to: 'a', text: decomposed }, limits, now).text), 'composed, GSM-7 has it')
})

t.test('what the schema cannot say is refused with every field named', async (t) => {
  const tooMany = t.throws(() => readOrder({ to: ['a', 'b', 'c', 'd'], text: 'x' }, limits, now)) as GatewayError
  t.match(tooMany, { code: 'GW_RECIPIENTS_TOO_MANY', extensions: { limit: 3 } })
  const error = t.throws(() => readOrder({ to: ['a', 'b'], text: 'x', uniqueId: ['id1'], utf: true, speed: true, sendAt: '2026-01-01T00:00:00Z' }, limits, now)) as GatewayError
  t.same(error.extensions.errors!.map((e) => e.field), ['/uniqueId', '/utf', '/speed', '/sendAt'])
  const repeats = t.throws(() => readOrder({ to: Array.from({ length: 3 }, (_, i) => `n${i}`), text: 'x', uniqueId: ['same', 'same', 'same'] }, limits, now)) as GatewayError
  t.same(repeats.extensions.errors!.map((e) => e.field), ['/uniqueId/1', '/uniqueId/2'])
  const invalidDate = t.throws(() => readOrder({ to: 'a', text: 'x', sendAt: 'not a date' }, limits, now)) as GatewayError
  t.same(invalidDate.extensions.errors, [{ field: '/sendAt', reason: 'is not a valid date-time' }])
})

t.test('a send is scheduled at most a year ahead: its signed dlr_url must stay valid until then', async (t) => {
  const furthest = new Date(now + MAX_SEND_AT_AHEAD_MS).toISOString()
  t.match(readOrder({ to: 'a', text: 'x', sendAt: furthest }, limits, now), { sendAt: new Date(furthest) }, '366 days ahead is taken')
  const beyond = t.throws(() => readOrder({ to: 'a', text: 'x', sendAt: new Date(now + MAX_SEND_AT_AHEAD_MS + 1000).toISOString() }, limits, now)) as GatewayError
  t.same(beyond.extensions.errors, [{ field: '/sendAt', reason: 'is more than a year ahead, the furthest a send may be scheduled' }])
  const farFuture = t.throws(() => readOrder({ to: 'a', text: 'x', sendAt: '9999-06-01T00:00:00Z' }, limits, now)) as GatewayError
  t.same(farFuture.extensions.errors, [{ field: '/sendAt', reason: 'is more than a year ahead, the furthest a send may be scheduled' }])
})

t.test('a leap second (23:59:60, as RFC 3339 allows) is read as the second after 23:59:59', async (t) => {
  t.same(readOrder({ to: 'a', text: 'x', sendAt: '2026-12-31T23:59:60Z' }, limits, now).sendAt, new Date('2027-01-01T00:00:00Z'))
  t.same(readOrder({ to: 'a', text: 'x', sendAt: '2026-12-31T23:59:60.5+01:00' }, limits, now).sendAt, new Date('2026-12-31T23:00:00.500Z'), 'with a fraction and an offset')
  t.same(readOrder({ to: 'a', text: 'x', sendAt: '2026-12-31 23:59:60Z' }, limits, now).sendAt, new Date('2027-01-01T00:00:00Z'), 'with a space for the T, as the schema\'s date-time allows')
})
