import t from 'tap'
import { isTrue, isValidSendDate, processSendSms, type SendSmsContext } from '../../src/simulator/send-sms.js'

const CONTEXT: SendSmsContext = { authorization: 'Bearer token', credentials: undefined, maxParts: 10, now: Date.UTC(2025, 0, 1, 12) }

t.test('numbers as JSON numbers; other junk is one incorrect number', async (t) => {
  const outcome = processSendSms({ phone: [500600700, null, { a: 1 }, ''], text: 12345, details: true }, CONTEXT)
  t.ok(outcome.accepted)
  if (!outcome.accepted) return
  t.match(outcome.body, { queued: 1, unsent: 1, items: [{ phone: '+48500600700', text: '12345', queued: '2025-01-01 13:00:00' }, { phone: '', status: 'unsent' }] })
  t.same(outcome.queuedIds.length, 1)
})

t.test('ids only when details or a dlr_url ask for them', async (t) => {
  const plain = processSendSms({ phone: '500600700', text: 'x' }, CONTEXT)
  const withReports = processSendSms({ phone: '500600700', text: 'x', dlr_url: 'http://x/' }, CONTEXT)
  t.ok(plain.accepted && withReports.accepted)
  if (!plain.accepted || !withReports.accepted) return
  // t.match would let [] match any array: the lists are compared whole.
  t.same(plain.queuedIds, [], 'no ids without details or a dlr_url')
  t.equal(plain.dlrUrl, undefined)
  t.equal(withReports.queuedIds.length, 1)
  t.match(withReports, { queuedIds: [/^[0-9a-f]{10}$/], dlrUrl: 'http://x/' })
})

t.test('a configured password is optional', async (t) => {
  const outcome = processSendSms({ phone: '500600700', text: 'x', username: 'api', password: 'any' }, {
    ...CONTEXT, authorization: undefined, credentials: { username: 'api' }
  })
  t.ok(outcome.accepted)
})

t.test('isTrue', async (t) => {
  for (const value of [true, 1, 'true', '1', 'True']) t.ok(isTrue(value), JSON.stringify(value))
  for (const value of [false, 0, 'false', '0', '', 'yes', 2, null, undefined, {}]) t.notOk(isTrue(value), JSON.stringify(value))
})

t.test('isValidSendDate', async (t) => {
  for (const value of ['2015-02-22 12:25:55', '2024-02-29 00:00:00', '2025-12-31 23:59:59']) t.ok(isValidSendDate(value), value)
  for (const value of ['2015-02-22', '2015-02-22 12:25', '2025-02-29 12:00:00', '2025-13-01 12:00:00', '2025-01-01 24:00:00', '2025-01-01 12:60:00', '2025-01-01 12:00:60', ' 2025-01-01 12:00:00']) {
    t.notOk(isValidSendDate(value), value)
  }
})
