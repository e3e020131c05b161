import t from 'tap'
import { countOf, isAccountError, phoneKey, PROVIDER_CODE_MAX, PROVIDER_TEXT_MAX, providerCode, readSendSmsResponse } from '../../src/serwersms/send-sms.js'

const ok = { success: true, queued: 1, unsent: 0, items: [{ id: 'a1', phone: '+48500600700', status: 'queued', parts: 1, text: 'x', queued: '2026-11-25 12:00:00' }] }

t.test('a success answer, extra fields tolerated', async (t) => {
  t.same(readSendSmsResponse(200, JSON.stringify({ ...ok, extra: { nested: true } })), { outcome: 'ok', response: { ...ok, extra: { nested: true } } })
  t.match(readSendSmsResponse(200, JSON.stringify({ success: true, queued: 0, unsent: 0 })), { outcome: 'ok' }, 'items are optional')
  t.match(readSendSmsResponse(200, JSON.stringify({ ...ok, items: [{ phone: '1', status: 'unsent', error_code: '3103', error_message: 'Incorrect number' }] })), { outcome: 'ok' })
})

t.test('an error body is a refusal whatever the HTTP status; codes as strings are read', async (t) => {
  t.same(readSendSmsResponse(200, '{"error":{"code":3101,"type":"SendError","message":"The message is empty"}}'), { outcome: 'provider_error', error: { code: 3101, type: 'SendError', message: 'The message is empty' } })
  t.same(readSendSmsResponse(401, '{"error":{"code":"1001"}}'), { outcome: 'provider_error', error: { code: 1001, type: 'UnknownError', message: 'no message given' } })
  t.same(readSendSmsResponse(200, '{"error":{"code":"abc","message":"odd"}}'), { outcome: 'provider_error', error: { code: 'abc', type: 'UnknownError', message: 'odd' } }, 'a code that is not a number passes through intact')
  t.same(readSendSmsResponse(400, '{"error":{"code":9999,"message":"new"}}'), { outcome: 'provider_error', error: { code: 9999, type: 'UnknownError', message: 'new' } }, 'an unknown code below 500 is a refusal')
  for (const code of [1001, '3100', 3009, 3104, 2001]) {
    t.match(readSendSmsResponse(503, JSON.stringify({ error: { code, message: 'known' } })), { outcome: 'provider_error', error: { code: Number(code) } }, `a documented code (${code}) with a 5xx is a refusal`)
  }
})

t.test('the provider\'s text is passed on cut: it is quoted per recipient, stored and logged', async (t) => {
  const long = 'x'.repeat(20_000)
  const refusal = readSendSmsResponse(400, JSON.stringify({ error: { code: 'C'.repeat(1000), type: 'T'.repeat(1000), message: long } }))
  t.same(refusal, { outcome: 'provider_error', error: { code: `${'C'.repeat(PROVIDER_CODE_MAX)}…`, type: `${'T'.repeat(PROVIDER_CODE_MAX)}…`, message: `${'x'.repeat(PROVIDER_TEXT_MAX)}…` } })
  const unknown = readSendSmsResponse(500, JSON.stringify({ error: { code: 'E500', message: long } }))
  t.same(unknown, { outcome: 'bad_response', statusCode: 500, detail: `HTTP 500 with an error the gateway does not know (E500: ${'x'.repeat(PROVIDER_TEXT_MAX)}…)` }, 'in a bad response\'s detail too')
  const items = readSendSmsResponse(200, JSON.stringify({ success: true, queued: 0, unsent: 1, items: [{ phone: '1', status: 'unsent', error_code: 'E'.repeat(100), error_message: long }] }))
  t.match(items, { outcome: 'ok', response: { items: [{ error_code: `${'E'.repeat(PROVIDER_CODE_MAX)}…`, error_message: `${'x'.repeat(PROVIDER_TEXT_MAX)}…` }] } }, 'and in a recipient\'s error')
  t.same(readSendSmsResponse(400, JSON.stringify({ error: { code: 1006, message: 'y'.repeat(PROVIDER_TEXT_MAX) } })), { outcome: 'provider_error', error: { code: 1006, type: 'UnknownError', message: 'y'.repeat(PROVIDER_TEXT_MAX) } }, 'a text of the limit\'s length is whole')
  t.same(readSendSmsResponse(400, JSON.stringify({ error: { code: 1006, message: 'pw abcd and abcd%21' } }), ['abcd%21', 'abcd']), { outcome: 'provider_error', error: { code: 1006, type: 'UnknownError', message: 'pw [credential] and [credential]' } }, 'every spelling given is taken out, the longest first')
})

t.test('an error in an answer that also says it queued, or lists recipients, is no refusal: a bad response', async (t) => {
  const error = { code: 3100, type: 'SendError', message: 'odd' }
  for (const body of [{ success: true, error }, { error, items: [] }, { error, queued: 2, unsent: 0 }, { error, queued: '1' }]) {
    t.same(readSendSmsResponse(200, JSON.stringify(body)), { outcome: 'bad_response', statusCode: 200, detail: 'an answer that is both an error (3100) and a success (HTTP 200)' }, JSON.stringify(body))
  }
  t.match(readSendSmsResponse(400, JSON.stringify({ error, queued: 0, success: false })), { outcome: 'provider_error' }, 'one that queued nothing is a refusal')
})

t.test('a 5xx with an error the provider does not document may have sent: a bad response', async (t) => {
  for (const code of ['E500', 500, 3010, 3105, 999, 2002, 1008]) {
    t.same(readSendSmsResponse(500, JSON.stringify({ error: { code, message: 'Internal error' } })), { outcome: 'bad_response', statusCode: 500, detail: `HTTP 500 with an error the gateway does not know (${code}: Internal error)` }, String(code))
  }
})

t.test('a code is a number only when sent as one or as digits; any other text stays as sent', async (t) => {
  for (const [sent, read] of [[3102, 3102], ['3102', 3102], ['0x3E9', '0x3E9'], ['1e3', '1e3'], ['+3102', '+3102'], [' 3102 ', ' 3102 '], ['3102.0', '3102.0'], [3102.5, '3102.5']] as const) {
    t.equal(providerCode(sent), read, JSON.stringify(sent))
  }
  t.match(readSendSmsResponse(503, '{"error":{"code":"0x3E9","message":"odd"}}'), { outcome: 'bad_response' }, 'not 1001 (an account refusal that sent nothing), but an undocumented code with a 5xx')
})

t.test('counts and ids written as digits are read as numbers and text', async (t) => {
  const answer = readSendSmsResponse(200, JSON.stringify({ success: true, queued: '1', unsent: '0', items: [{ id: 4711, phone: '48500600700', status: 'queued', parts: '2' }] }))
  t.match(answer, { outcome: 'ok' })
  t.match(readSendSmsResponse(200, JSON.stringify({ success: true, queued: 1, unsent: 1, items: [{ id: 'a1', phone: '48500600700', status: 'queued', parts: null }, { id: null, phone: '48500600701', status: 'unsent', error_code: null, error_message: null }] })), { outcome: 'ok' }, 'an optional field written null is left out, not a whole batch unknown')
  t.equal(countOf('2'), 2)
  t.equal(countOf(3), 3)
})

t.test('anything else is a bad response', async (t) => {
  const cases: Array<[number, string, RegExp]> = [
    [200, 'not json', /^an unparsable body \(HTTP 200\)$/],
    [502, '<html>bad gateway</html>', /unparsable/],
    [500, '{"success":true,"queued":1,"unsent":0}', /HTTP 500 without an error body/],
    [200, '{"success":false}', /^a body that is not a send_sms answer$/],
    [200, '[]', /not a send_sms answer/],
    [200, 'null', /not a send_sms answer/],
    [200, '{"success":true,"queued":"1.0","unsent":0}', /not a send_sms answer/],
    [200, '{"success":true,"queued":"-1","unsent":0}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":""}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","id":1.5}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","id":true}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":{}}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":1,"status":"queued"}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","parts":"1 "}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","parts":"1e3"}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","parts":1e999}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","parts":1.5}]}', /not a send_sms answer/],
    [200, '{"success":true,"queued":1,"unsent":0,"items":[{"phone":"1","status":"queued","parts":-1}]}', /not a send_sms answer/],
    [200, '{"error":{"type":"x"}}', /not a send_sms answer/],
    [200, '{"error":"boom"}', /not a send_sms answer/]
  ]
  for (const [status, body, detail] of cases) {
    t.match(readSendSmsResponse(status, body), { outcome: 'bad_response', statusCode: status, detail }, body)
  }
})

t.test('helpers', async (t) => {
  t.equal(phoneKey('+48 500-600-700'), '48500600700')
  for (const code of [1001, 1002, 1003, 1005, 1007]) t.ok(isAccountError(code), `${code} is about the account`)
  for (const code of [1000, 1004, 1006, 2000, 2001, 3101, 3103, 999, 1999, '1001']) t.notOk(isAccountError(code), `${code} is about the request`)
})
