import t from 'tap'
import { dispatchSms, type SendBatch } from '../../src/sms/dispatch.js'
import type { SendSmsFields } from '../../src/serwersms/client.js'
import type { SendSmsItem, SendSmsOutcome } from '../../src/serwersms/send-sms.js'

const settings = { batchSize: 2, concurrency: 2, defaultRegion: 'PL' as const }

/** A batch the provider accepted, listing these items (its counts follow from them). */
function accepted (items: SendSmsItem[]): SendSmsOutcome {
  const count = (status: string) => items.filter((item) => item.status === status).length
  return { outcome: 'ok', response: { success: true, queued: count('queued'), unsent: count('unsent'), items } }
}

/** A provider answering from a script, to reach answers the simulator never gives. */
function scripted (answer: (fields: SendSmsFields, call: number) => Awaited<ReturnType<SendBatch>>): { send: SendBatch, calls: SendSmsFields[] } {
  const calls: SendSmsFields[] = []
  return { calls, send: async (fields) => answer(fields, calls.push(fields) - 1) }
}

t.test('per-recipient refusals and unlisted recipients inside an accepted batch', async (t) => {
  const provider = scripted((fields) => accepted([
    { id: 'aaa1', phone: fields.phone[0]!.slice(1), status: 'queued', parts: 2 },
    { id: 'bbb2', phone: fields.phone[1]!, status: 'unsent', error_code: 3103, error_message: 'Incorrect number' }
  ].slice(0, fields.phone.length)))
  const report = await dispatchSms({ to: ['+48500600700', '+48500600701', '+48500600702'], text: 'x' }, { ...settings, batchSize: 3 }, provider.send)
  t.same(report.result.messages, [
    { phone: '+48500600700', status: 'queued', id: 'aaa1', parts: 2 },
    { phone: '+48500600701', status: 'unsent', id: 'bbb2', error: { code: 3103, message: 'Incorrect number' } },
    { phone: '+48500600702', status: 'unknown', error: { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'The provider accepted the batch but did not list this recipient.' } }
  ], 'a phone written without + still matches; an unlisted one is unknown, not queued')
  t.match(report.result, { queued: 1, unsent: 1, unknown: 1, parts: 2 })
  t.equal(report.failure, undefined)
})

t.test('counts that disagree with the list leave a recipient listed as not sent unknown: it may have been sent', async (t) => {
  const to = ['+48500600700', '+48500600701']
  const items: SendSmsItem[] = [
    { id: 'aaa1', phone: to[0]!, status: 'queued', parts: 1 },
    { id: 'bbb1', phone: to[1]!, status: 'unsent', error_code: 3103, error_message: 'Incorrect number' }
  ]
  const disagreeing = scripted(() => ({ outcome: 'ok', response: { success: true, queued: 2, unsent: 0, items } }))
  const report = await dispatchSms({ to, text: 'x' }, settings, disagreeing.send)
  t.same(report.result.messages, [
    { phone: to[0], status: 'queued', id: 'aaa1', parts: 1 },
    { phone: to[1], status: 'unknown', id: 'bbb1', error: { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'The provider listed this recipient as not sent, but its counts (queued 2, unsent 0) disagree with its list: it may have been sent.' } }
  ], 'the queued one, with its id, stays queued')
  const agreeing = await dispatchSms({ to, text: 'x' }, settings, scripted(() => ({ outcome: 'ok', response: { success: true, queued: '1', unsent: '1', items } })).send)
  t.same(agreeing.result.messages.map((m) => m.status), ['queued', 'unsent'], 'counts written as digits that agree: taken at their word')
})

t.test('a repeat of an invalid input is a repeat too, with or without a uniqueId: counted once', async (t) => {
  const provider = scripted((fields) => accepted(fields.phone.map((phone, i) => ({ id: `id${i}`, phone, status: 'queued' }))))
  const withIds = await dispatchSms({ to: ['abc', 'abc', '+48500600700'], uniqueIds: ['u1', 'u2', 'u3'], text: 'x' }, settings, provider.send)
  t.same(withIds.result.messages.map((m) => [m.uniqueId, m.status, m.error?.code]), [['u1', 'unsent', 'GW_PHONE_INVALID'], ['u2', 'unsent', 'GW_PHONE_INVALID'], ['u3', 'queued', undefined]], 'each id answered, the repeat as invalid as the first')
  t.equal(withIds.repeats, 1, 'the second "abc" is no message of its own')
  const withoutIds = await dispatchSms({ to: ['abc', 'abc', '+48500600700'], text: 'x' }, settings, provider.send)
  t.equal(withoutIds.result.messages.length, 2, 'without ids the repeat is dropped')
  t.equal(withoutIds.repeats, undefined)
})

t.test('provider fields are built once and shared by every batch', async (t) => {
  const provider = scripted((fields) => accepted(fields.phone.map((p, i) => ({ id: `id${i}${p}`, phone: p, status: 'queued' }))))
  const sendAt = new Date('2026-07-01T10:00:00Z')
  await dispatchSms({ to: ['500600700', '500600701', '500600702'], uniqueIds: ['a11', 'b22', 'c33'], text: 'Zażółć', sender: 'FIRMA', flash: true, sendAt }, { ...settings, deliveryReportUrl: () => 'https://x/dlr' }, provider.send)
  t.equal(provider.calls.length, 2)
  t.match(provider.calls[0], { system: 'sms-gateway', details: true, text: 'Zażółć', sender: 'FIRMA', flash: true, utf: true, date: '2026-07-01 12:00:00', dlr_url: 'https://x/dlr', phone: ['+48500600700', '+48500600701'], unique_id: ['a11', 'b22'] })
  t.match(provider.calls[1], { system: 'sms-gateway', details: true, text: 'Zażółć', sender: 'FIRMA', flash: true, utf: true, date: '2026-07-01 12:00:00', dlr_url: 'https://x/dlr', phone: ['+48500600702'], unique_id: ['c33'] }, 'the second batch carries every field the first does')
  t.same(Object.keys(provider.calls[1]!).sort(), Object.keys(provider.calls[0]!).sort(), 'and no other')
})

t.test('when no batch was accepted, the answer never says nothing was sent of recipients that may have been', async (t) => {
  const to = ['+48500600700', '+48500600701', '+48500600702']
  const unreachable = { outcome: 'network', requestSent: false, detail: 'ECONNREFUSED' } as const
  const mixed = scripted((_fields, call) => call === 0 ? unreachable : { outcome: 'timeout', requestSent: true, detail: 'no answer' })
  const report = await dispatchSms({ to, text: 'x' }, { ...settings, concurrency: 1 }, mixed.send)
  t.same(report.result.messages.map((m) => m.status), ['failed', 'failed', 'unknown'])
  t.match(report.failure, {
    code: 'GW_UPSTREAM_TIMEOUT',
    detail: 'None of the 2 batches was accepted. SerwerSMS did not answer in time; the messages may have been sent. Each recipient\'s status says what became of it: failed was not sent, unknown may have been.'
  }, 'the batch that may have been sent names the failure, though it came second')
  t.notMatch(report.failure?.detail, /nothing was sent/)

  const none = await dispatchSms({ to, text: 'x' }, { ...settings, concurrency: 1 }, scripted(() => unreachable).send)
  t.same(none.result.messages.map((m) => m.status), ['failed', 'failed', 'failed'])
  t.match(none.failure, { code: 'GW_UPSTREAM_UNREACHABLE', detail: /^None of the 2 batches was accepted\. SerwerSMS could not be reached \(ECONNREFUSED\); nothing was sent\./ }, 'nothing sent: true of every batch')

  const one = await dispatchSms({ to: to.slice(0, 1), text: 'x' }, settings, scripted(() => unreachable).send)
  t.same(one.failure, { code: 'GW_UPSTREAM_UNREACHABLE', detail: 'SerwerSMS could not be reached (ECONNREFUSED); nothing was sent.', mayHaveBeenSent: false }, 'one batch: its own failure, word for word')
})

t.test('misaligned uniqueIds are a programming error', async (t) => {
  await t.rejects(dispatchSms({ to: ['+48500600700'], uniqueIds: [], text: 'x' }, settings, async () => { throw new Error('never') }), RangeError)
})

t.test('an order that fits one batch (the path that skips the pool): one request, its outcome, and a throwing sender surfaces', async (t) => {
  const provider = scripted((fields) => accepted([{ id: 'one1', phone: fields.phone[0]!, status: 'queued' }]))
  const report = await dispatchSms({ to: ['+48500600700', '500 600 700'], text: 'x' }, settings, provider.send)
  t.equal(provider.calls.length, 1, 'the duplicate was dropped before the single batch left')
  t.same(report, { result: { queued: 1, unsent: 0, failed: 0, unknown: 0, parts: 1, messages: [{ phone: '+48500600700', status: 'queued', id: 'one1' }] }, batches: 1, acceptedBatches: 1 })
  const broken = new Error('a bug in the batch sender')
  await t.rejects(dispatchSms({ to: ['+48500600700'], text: 'x' }, settings, async () => { throw broken }), broken, 'a sender that throws is not swallowed')
})

t.test('answers the provider should not give leave recipients unknown, never queued on a guess', async (t) => {
  const provider = scripted((fields) => accepted([
    { id: 'aaa1', phone: fields.phone[0]!, status: 'queued', parts: 1 },
    { id: 'aaa2', phone: fields.phone[0]!, status: 'unsent', error_code: 3103, error_message: 'Incorrect number' },
    { id: 'bbb1', phone: fields.phone[1]!, status: 'rejected' },
    { id: 'ccc1', phone: fields.phone[2]!, status: 'queued', parts: 1 },
    { id: 'ccc1', phone: fields.phone[2]!, status: 'queued', parts: 1 },
    { id: 'ddd1', phone: fields.phone[3]!, status: 'unsent', error_code: 3103.5, error_message: 'odd' },
    { id: 'eee1', phone: fields.phone[4]!, status: 'unsent', error_code: '3103', error_message: 'as text' }
  ]))
  const to = ['+48500600700', '+48500600701', '+48500600702', '+48500600703', '+48500600704']
  const report = await dispatchSms({ to, text: 'x' }, { ...settings, batchSize: 5 }, provider.send)
  t.same(report.result.messages, [
    { phone: to[0], status: 'unknown', error: { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'The provider listed this recipient twice with different outcomes.' } },
    { phone: to[1], status: 'unknown', id: 'bbb1', error: { code: 'GW_UPSTREAM_BAD_RESPONSE', message: 'The provider gave this recipient the status "rejected", which the gateway does not know.' } },
    { phone: to[2], status: 'queued', id: 'ccc1', parts: 1 },
    { phone: to[3], status: 'unsent', id: 'ddd1', error: { code: '3103.5', message: 'odd' } },
    { phone: to[4], status: 'unsent', id: 'eee1', error: { code: 3103, message: 'as text' } }
  ], 'a conflicting repeat and an unknown status are unknown; an identical repeat is one; a code that is not an integer stays text')
})

t.test('counts and ids the provider writes as digits are answered as the schema says: parts a number, id text', async (t) => {
  const provider = scripted((fields) => accepted([
    { id: 4711, phone: fields.phone[0]!, status: 'queued', parts: '2' },
    { id: '4712', phone: fields.phone[1]!, status: 'queued', parts: 3 }
  ]))
  const report = await dispatchSms({ to: ['+48500600700', '+48500600701'], text: 'x' }, settings, provider.send)
  t.same(report.result.messages, [
    { phone: '+48500600700', status: 'queued', id: '4711', parts: 2 },
    { phone: '+48500600701', status: 'queued', id: '4712', parts: 3 }
  ])
  t.equal(report.result.parts, 5)
})

t.test('an optional field written null is read as left out, not as a value', async (t) => {
  const provider = scripted((fields) => accepted([
    { id: 'aaa1', phone: fields.phone[0]!, status: 'queued', parts: null },
    { id: null, phone: fields.phone[1]!, status: 'unsent', error_code: null, error_message: null }
  ]))
  const report = await dispatchSms({ to: ['+48500600700', '+48500600701'], text: 'x' }, settings, provider.send)
  t.same(report.result.messages, [
    { phone: '+48500600700', status: 'queued', id: 'aaa1' },
    { phone: '+48500600701', status: 'unsent', error: { code: 'unknown', message: 'Not sent' } }
  ])
  t.equal(report.result.parts, 1, 'a part counted for a queued message whose parts were not given')
})

t.test('a number refused before sending keeps its uniqueId', async (t) => {
  const provider = scripted((fields) => accepted([{ id: 'aaa1', phone: fields.phone[0]!, status: 'queued', parts: 1 }]))
  const report = await dispatchSms({ to: ['+48500600700', 'not a number'], uniqueIds: ['order1', 'order2'], text: 'x' }, settings, provider.send)
  t.same(report.result.messages.map((message) => [message.status, message.uniqueId]), [['queued', 'order1'], ['unsent', 'order2']])
})

t.test('once the gateway is stopping, no batch is sent and every recipient is failed', async (t) => {
  const provider = scripted(() => { throw new Error('must not send') })
  const report = await dispatchSms({ to: ['+48500600701', '+48500600702', '+48500600703'], text: 'x' }, { ...settings, stopping: () => true }, provider.send)
  t.equal(provider.calls.length, 0)
  t.match(report, { batches: 2, acceptedBatches: 0, failure: { code: 'GW_SHUTTING_DOWN' }, result: { failed: 3, queued: 0, unknown: 0 } })
  t.ok(report.result.messages.every((message) => message.error?.code === 'GW_SHUTTING_DOWN'))
})
