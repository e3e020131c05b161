import t from 'tap'
import { readReportFields } from '../../src/dlr/report-fields.js'

t.test('every known name, from the first source that has it', async (t) => {
  t.same(readReportFields({ smsid: 'a1', stan: 'delivered', data: '2026-11-25 12:00:00', przyczyna: 'none' }), { ok: true, fields: { messageId: 'a1', state: 'delivered', date: '2026-11-25 12:00:00', reason: 'none' } })
  t.same(readReportFields({ id: 7, status: ' sent ', date: '', reason: '#PRZYCZYNA#' }), { ok: true, fields: { messageId: '7', state: 'sent' } }, 'numbers, blanks and unreplaced placeholders')
  t.same(readReportFields(undefined, { sms_id: 'q', state: 'x' }), { ok: true, fields: { messageId: 'q', state: 'x' } }, 'the query when there is no body')
  t.match(readReportFields({ smsid: 'signed' }, { smsid: 'signed', stan: 's' }), { ok: true, fields: { messageId: 'signed', state: 's' } }, 'the first source wins; a later one about the same message fills in what it lacks')
  t.match(readReportFields({ smsid: 'signed' }, { stan: 's' }), { ok: true, fields: { messageId: 'signed', state: 's' } }, 'so does one that names no message')
  t.same(readReportFields({ smsid: 'signed' }, { smsid: 'other', stan: 's' }), { ok: false, field: 'stan', problem: 'the delivery state is missing' }, 'one about another message is left out whole')
  t.same(readReportFields({ smsid: 'A2', stan: 'delivered' }, { smsid: 'B2', stan: 'undelivered', przyczyna: 'Message expired' }), { ok: true, fields: { messageId: 'A2', state: 'delivered' } }, 'no reason taken from another message\'s report')
  t.match(readReportFields({ smsid: 'A2' }, { smsid: ['A2', 'B2'], stan: 'x' }), { ok: true, fields: { messageId: 'A2', state: 'x' } }, 'a later id that cannot be read does not exclude its source')
  t.match(readReportFields({ smsid: '#SMSID#' }, { smsid: 'b1', stan: 'x' }), { ok: true, fields: { messageId: 'b1' } }, 'nor does a first source without an id of its own')
  t.match(readReportFields({ smsid: 'e6', stan: 'delivered' }, { id: '12345', status: 'ok' }), { ok: true, fields: { messageId: 'e6', state: 'delivered' } }, 'an older name in a later source does not beat the first source\'s field')
  t.match(readReportFields('a string body', ['array'], { smsid: 'x', stan: 'y' }), { ok: true }, 'non-objects are ignored')
})

t.test('what is missing or broken is named', async (t) => {
  t.same(readReportFields({ stan: 'delivered' }), { ok: false, field: 'smsid', problem: 'the message id is missing' })
  t.same(readReportFields({ smsid: '#SMSID#', stan: 'delivered' }), { ok: false, field: 'smsid', problem: 'the message id is missing' })
  t.same(readReportFields({ smsid: 'a' }), { ok: false, field: 'stan', problem: 'the delivery state is missing' })
  t.match(readReportFields({ smsid: ['a', 'b'], stan: 'x' }), { ok: false, field: 'smsid' })
  t.match(readReportFields({ smsid: 'a', stan: 'x'.repeat(201) }), { ok: false, field: 'stan' })
  t.match(readReportFields({ smsid: 'a', stan: 'x', data: {} }, { smsid: ['a', 'b'] }), { ok: true }, 'where the unusable field was read: a later source\'s unreadable id is not the report\'s')
  t.match(readReportFields({ stan: 'x' }, { smsid: ['a', 'b'] }), { ok: false, field: 'smsid', source: 1 })
  t.match(readReportFields(undefined, { smsid: 1.5, stan: 'x' }), { ok: false, field: 'smsid', source: 1 })
})

t.test('an unusable field is named as it was sent, an older name too', async (t) => {
  t.same(readReportFields({ id: true, stan: 'x' }), { ok: false, field: 'id', problem: 'is repeated, not text (or a whole number), or too long', source: 0 })
  t.match(readReportFields(undefined, { id: ['a3', 'a4'], stan: 'x' }), { ok: false, field: 'id', source: 1 })
  t.match(readReportFields({ smsid: 'a', status: ['5', '6'] }), { ok: false, field: 'status' })
  t.same(readReportFields({ status: 'delivered' }), { ok: false, field: 'smsid', problem: 'the message id is missing' }, 'a missing one under its first name')
})

t.test('a blank value or an unfilled placeholder is no value: the next name, then the next source, is read', async (t) => {
  t.same(readReportFields({ smsid: '', stan: '#STAN#', data: ' ' }, { smsid: 'e6', stan: 'delivered', data: '2026-11-25 12:00:00' }), { ok: true, fields: { messageId: 'e6', state: 'delivered', date: '2026-11-25 12:00:00' } })
  t.same(readReportFields({ smsid: '', id: 'e7', stan: 'sent' }), { ok: true, fields: { messageId: 'e7', state: 'sent' } }, 'an older name in the same source')
  t.same(readReportFields({ smsid: '#SMSID#', stan: 'delivered' }, { smsid: '' }), { ok: false, field: 'smsid', problem: 'the message id is missing' }, 'blank everywhere is missing')
})

t.test('a date or a reason that cannot be read does not lose the report: it is taken without them, and says which', async (t) => {
  t.same(readReportFields({ smsid: 'a', stan: 'delivered', data: {}, przyczyna: true }), { ok: true, fields: { messageId: 'a', state: 'delivered', setAside: ['data', 'przyczyna'] } })
  t.same(readReportFields({ smsid: 'a', stan: 'x', date: 12.5, reason: ['p', 'q'] }), { ok: true, fields: { messageId: 'a', state: 'x', setAside: ['date', 'reason'] } }, 'under their other names too')
  t.same(readReportFields({ smsid: 'a', stan: 'x', data: 'x'.repeat(201) }), { ok: true, fields: { messageId: 'a', state: 'x', setAside: ['data'] } }, 'a date too long')
  const long = `Wiadomość wygasła ${'ą'.repeat(200)}`
  t.same(readReportFields({ smsid: 'a', stan: 'undelivered', przyczyna: long }), { ok: true, fields: { messageId: 'a', state: 'undelivered', reason: long.slice(0, 200) } }, 'a reason too long is read from its start')
})

t.test('a JSON null is no value, as a blank one is', async (t) => {
  t.same(readReportFields({ smsid: 'j1', stan: 'delivered', przyczyna: null, data: null }), { ok: true, fields: { messageId: 'j1', state: 'delivered' } })
  t.same(readReportFields({ smsid: 'j2', stan: 'delivered' }, { przyczyna: null }), { ok: true, fields: { messageId: 'j2', state: 'delivered' } }, 'in a body adding to the signed URL\'s fields')
  t.same(readReportFields({ smsid: null, id: 'j3', stan: 'sent' }), { ok: true, fields: { messageId: 'j3', state: 'sent' } }, 'the next name is read')
  t.same(readReportFields({ smsid: null, stan: 'sent' }), { ok: false, field: 'smsid', problem: 'the message id is missing' })
})
