import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { RECIPIENT_ERRORS } from '../../src/errors.js'
import { authHeader, DLR_SECRET, OTHER_API_KEY, startGateway, UPSTREAM_TOKEN, type GatewayUnderTest } from '../helper.js'
import { waitFor } from '../servers.js'

interface Answer { status: number, contentType: string | null, body: any, headers: Headers }

async function post (gw: GatewayUnderTest, body: unknown, headers: Record<string, string> = authHeader()): Promise<Answer> {
  const response = await fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, contentType: response.headers.get('content-type'), body: text === '' ? undefined : JSON.parse(text), headers: response.headers }
}

/**
 * 00:30 UTC on the last Sunday of next year's October: 02:30 in Poland, in the hour its clocks
 * repeat (CEST ends at 01:00 UTC). Next year's, so that it never falls in the past.
 */
function repeatedPolishHour (): { iso: string, day: string } {
  const lastOfOctober = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 9, 31, 0, 30))
  lastOfOctober.setUTCDate(31 - lastOfOctober.getUTCDay())
  return { iso: lastOfOctober.toISOString(), day: lastOfOctober.toISOString().slice(0, 10) }
}
const REPEATED = repeatedPolishHour()

const lastUpstreamBody = (gw: GatewayUnderTest) => gw.simulator.received.at(-1)?.body as Record<string, unknown>

t.test('a single recipient is sent with the stored token and answered per recipient', async (t) => {
  const gw = await startGateway(t)
  const answer = await post(gw, { to: '500 600 700', text: 'Hello' })
  t.equal(answer.status, 200)
  t.match(answer.body, { queued: 1, unsent: 0, failed: 0, unknown: 0, parts: 1 })
  t.match(answer.body.messages, [{ phone: '+48500600700', status: 'queued', parts: 1, id: /^[0-9a-f]{10}$/ }])
  t.equal(gw.simulator.received.length, 1)
  const sent = gw.simulator.received[0]!
  t.equal(sent.path, '/messages/send_sms')
  t.equal(sent.headers.authorization, `Bearer ${UPSTREAM_TOKEN}`)
  t.same(sent.body.phone, ['+48500600700'])
  t.equal(sent.body.text, 'Hello')
  t.equal(sent.body.details, true)
  t.equal(sent.body.system, 'sms-gateway')
  t.notOk('username' in sent.body || 'password' in sent.body, 'no body credentials in token mode')
  t.notOk('dlr_url' in sent.body, 'no dlr_url without PUBLIC_URL')
  t.notOk('sender' in sent.body, 'ECO+ without a sender')
})

t.test('API user credentials travel in the body; a token wins when both are set', async (t) => {
  const user = await startGateway(t, {
    env: { SERWERSMS_TOKEN: undefined, SERWERSMS_USERNAME: 'api-user', SERWERSMS_PASSWORD: 'api-pass-1234' },
    simulator: { credentials: { username: 'api-user', password: 'api-pass-1234' } }
  })
  t.equal((await post(user, { to: '+48500600700', text: 'x' })).status, 200)
  t.match(lastUpstreamBody(user), { username: 'api-user', password: 'api-pass-1234' })
  t.equal(user.simulator.received[0]!.headers.authorization, undefined)

  const both = await startGateway(t, { env: { SERWERSMS_USERNAME: 'api-user', SERWERSMS_PASSWORD: 'api-pass-1234' } })
  t.equal((await post(both, { to: '+48500600700', text: 'x' })).status, 200)
  t.equal(both.simulator.received[0]!.headers.authorization, `Bearer ${UPSTREAM_TOKEN}`)
  t.notOk('password' in lastUpstreamBody(both))
})

t.test('recipients are normalised, de-duplicated, and invalid ones reported while the rest go ahead', async (t) => {
  const gw = await startGateway(t)
  const answer = await post(gw, { to: ['+48500600700', '45616', '500600700', '0048 500 600 701', '45616', 'call me'], text: 'Hi' })
  t.equal(answer.status, 200)
  t.match(answer.body, { queued: 2, unsent: 2 })
  t.match(answer.body.messages, [
    { phone: '+48500600700', status: 'queued' },
    { phone: '45616', status: 'unsent', error: { code: 'GW_PHONE_INVALID', message: RECIPIENT_ERRORS.GW_PHONE_INVALID } },
    { phone: '+48500600701', status: 'queued' },
    { phone: 'call me', status: 'unsent', error: { code: 'GW_PHONE_INVALID' } }
  ])
  t.equal(answer.body.messages.length, 4)
  t.same(lastUpstreamBody(gw).phone, ['+48500600700', '+48500600701'], 'only valid, distinct numbers reach the provider')
  const dispatched = gw.logs.entries.find((e) => e.msg === 'request completed' && e.route === '/sms')
  t.same(dispatched?.notQueued, ['***16 unsent', '*****me unsent'], 'refused recipients are logged masked')
  t.notOk(gw.logs.lines.some((line) => line.includes('500600700')), 'no full phone number in the log')
})

t.test('when every number is invalid nothing is sent', async (t) => {
  const gw = await startGateway(t)
  const answer = await post(gw, { to: ['123', 'abc'], text: 'Hi' })
  t.equal(answer.status, 200)
  t.match(answer.body, { queued: 0, unsent: 2 })
  t.equal(gw.simulator.received.length, 0)
})

t.test('sender, utf and the provider flags are mapped', async (t) => {
  const gw = await startGateway(t, { env: { SERWERSMS_SENDER: 'FIRMA' } })
  await post(gw, { to: '+48500600700', text: 'Zażółć gęślą jaźń' })
  t.match(lastUpstreamBody(gw), { sender: 'FIRMA', utf: true }, 'default sender, utf set for national characters')
  const test = await post(gw, { to: ['+48500600700', 'bad'], text: 'plain text', sender: 'OTHER', flash: true, test: true, speed: true, vcard: false })
  t.match(lastUpstreamBody(gw), { sender: 'OTHER', flash: true, test: true, speed: true, vcard: false })
  t.match(test, { status: 200, body: { queued: 1, unsent: 1, test: true } }, 'a test send\'s answer says so: its ids have no SMS behind them')
  t.notOk('test' in (await post(gw, { to: '+48500600700', text: 'real', test: false })).body, 'a real one\'s does not')
  t.notOk('utf' in lastUpstreamBody(gw), 'GSM-7 text needs no utf')
  await post(gw, { to: '+48500600700', text: 'Zażółć', utf: false })
  t.notOk('utf' in lastUpstreamBody(gw), 'an explicit utf=false is respected')
  const asEco = await post(gw, { to: '+48500600700', text: 'Zażółć', sender: '' })
  t.equal(asEco.status, 200)
  t.notOk('sender' in lastUpstreamBody(gw) || 'utf' in lastUpstreamBody(gw), 'an empty sender asks for ECO+, as SerwerSMS reads one, over SERWERSMS_SENDER: no sender, no utf')
  const ecoWithUtf = await post(gw, { to: '+48500600700', text: 'Zażółć', sender: '', utf: true })
  t.match(ecoWithUtf, { status: 400, body: { errors: [{ field: '/utf', reason: 'works only for FULL SMS, and /sender is empty (ECO+)' }] } })

  const eco = await startGateway(t)
  await post(eco, { to: '+48500600700', text: 'Zażółć' })
  t.notOk('utf' in lastUpstreamBody(eco), 'ECO+ cannot carry utf')
  const refused = await post(eco, { to: '+48500600700', text: 'Zażółć', utf: true, speed: true })
  t.equal(refused.status, 400)
  t.same(refused.body.errors.map((e: { field: string }) => e.field), ['/utf', '/speed'])
})

t.test('sendAt becomes the provider date in Warsaw time; a past one is refused', async (t) => {
  const gw = await startGateway(t)
  const future = new Date(Date.now() + 86_400_000)
  future.setUTCHours(10, 30, 0, 0)
  const answer = await post(gw, { to: '+48500600700', text: 'later', sendAt: future.toISOString() })
  t.equal(answer.status, 200)
  const expected = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(future)
  t.equal(lastUpstreamBody(gw).date, expected)
  t.equal((await post(gw, { to: '+48500600701', text: 'now' })).status, 200)
  t.equal((await post(gw, { to: '+48500600702', text: 'a test', sendAt: future.toISOString(), test: true })).status, 200)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, '\nsms_gateway_scheduled_messages_total{client="billing"} 1\n', 'the scheduled recipient, for the alert on missing reports to leave out; not the one sent at once, nor the test')
  t.match(metrics, '\nsms_gateway_messages_total{status="queued",client="billing"} 2\n')
  const past = await post(gw, { to: '+48500600700', text: 'x', sendAt: '2020-01-01T00:00:00Z' })
  t.equal(past.status, 400)
  t.match(past.body.errors, [{ field: '/sendAt', reason: /past/ }])
  const garbage = await post(gw, { to: '+48500600700', text: 'x', sendAt: 'tomorrow' })
  t.equal(garbage.status, 400)
  t.match(garbage.body.errors, [{ field: '/sendAt' }])
})

t.test('the provider\'s zone for date is undocumented (docs: [guess: zone]): SERWERSMS_TIME_ZONE sets it', async (t) => {
  const gw = await startGateway(t, { env: { SERWERSMS_TIME_ZONE: 'UTC' } })
  const future = new Date(Date.now() + 86_400_000)
  future.setUTCHours(10, 30, 0, 0)
  t.equal((await post(gw, { to: '+48500600700', text: 'later', sendAt: future.toISOString() })).status, 200)
  t.equal(lastUpstreamBody(gw).date, future.toISOString().slice(0, 19).replace('T', ' '), 'the same instant, written in UTC')
  const repeated = await post(gw, { to: '+48500600700', text: 'x', sendAt: REPEATED.iso })
  t.equal(repeated.status, 200, 'the hour Polish clocks repeat is a plain hour in UTC')
})

t.test('uniqueId stays aligned with its numbers through de-duplication, and every id is answered', async (t) => {
  const gw = await startGateway(t)
  const answer = await post(gw, { to: ['+48500600700', 'bad', '500600700', '+48500600701', 'bad'], uniqueId: ['idA1', 'idB2', 'idC3', 'idD4', 'idE5'], text: 'x' })
  t.equal(answer.status, 200)
  t.same(lastUpstreamBody(gw).unique_id, ['idA1', 'idD4'])
  t.same(lastUpstreamBody(gw).phone, ['+48500600700', '+48500600701'])
  t.match(answer.body, { queued: 2, unsent: 3 })
  t.same(answer.body.messages.map((m: { uniqueId?: string, status: string, error?: { code: unknown } }) => [m.uniqueId, m.status, m.error?.code]), [
    ['idA1', 'queued', undefined],
    ['idB2', 'unsent', 'GW_PHONE_INVALID'],
    ['idC3', 'unsent', 'GW_RECIPIENT_REPEATED'],
    ['idD4', 'queued', undefined],
    ['idE5', 'unsent', 'GW_PHONE_INVALID']
  ])
  t.match(answer.body.messages[2], { phone: '+48500600700', error: { message: /uniqueId idA1/ } }, 'the repeat names the recipient that gets the SMS')
  t.notOk('id' in answer.body.messages[2], 'a repeat has no message id of its own')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /\nsms_gateway_messages_total\{status="unsent",client="billing"\} 1\n/, 'the invalid input once: neither its repeat nor the valid number\'s is a message of its own (as when they come without ids)')
  t.match(metrics, /\nsms_gateway_messages_total\{status="queued",client="billing"\} 2\n/)
  t.match(gw.logs.entries.find((e) => e.msg === 'request completed' && e.route === '/sms'), { queued: 2, unsent: 3, repeats: 2 }, 'the log line names the repeats among the unsent, so it adds up to the metrics too')

  const mismatch = await post(gw, { to: ['+48500600700', '+48500600701'], uniqueId: 'only1', text: 'x' })
  t.equal(mismatch.status, 400)
  t.match(mismatch.body.errors, [{ field: '/uniqueId', reason: /1 ids for 2 recipients/ }])
  const repeated = await post(gw, { to: ['+48500600700', '+48500600701'], uniqueId: ['same1', 'same1'], text: 'x' })
  t.equal(repeated.status, 400)
  t.match(repeated.body.errors, [{ field: '/uniqueId/1', reason: /repeats/ }])
  const invalid = await post(gw, { to: '+48500600700', uniqueId: 'a-b', text: 'x' })
  t.equal(invalid.status, 400)
  t.match(invalid.body.errors, [{ field: '/uniqueId' }])
})

/** What a caller reads for a sender that is none of those SerwerSMS takes. */
const SENDER_REASON = 'must be an approved sender name (1–11 letters, digits, spaces, dots or hyphens, with at least one letter, and no space at either end), a 4- or 9-digit number, or empty for none (ECO+)'

t.test('bad bodies are refused with problem+json naming the field, never coerced or stripped', async (t) => {
  const gw = await startGateway(t)
  const cases: Array<[unknown, string]> = [
    [{ to: '+48500600700', text: 'x', extra: 1 }, '/extra'],
    [{ to: 48500600700, text: 'x' }, '/to'],
    [{ to: '+48500600700', text: 'x', flash: 'true' }, '/flash'],
    [{ to: '+48500600700', text: '' }, '/text'],
    [{ to: '+48500600700', text: '   ' }, '/text'],
    [{ to: [], text: 'x' }, '/to'],
    [{ text: 'x' }, '/to'],
    [{ to: '+48500600700', text: 'x', sender: 'way too long a sender' }, '/sender']
  ]
  for (const [body, field] of cases) {
    const answer = await post(gw, body)
    t.equal(answer.status, 400, JSON.stringify(body))
    t.equal(answer.contentType, 'application/problem+json; charset=utf-8')
    t.equal(answer.body.code, 'GW_VALIDATION_FAILED')
    t.ok(answer.body.errors.some((e: { field: string }) => e.field === field), `${JSON.stringify(body)} names ${field}: ${JSON.stringify(answer.body.errors)}`)
  }
  const reasons: Array<[unknown, string, string]> = [
    [{ to: '+48500600700', text: 'x', sender: '12345' }, '/sender', SENDER_REASON],
    [{ to: '+48500600700', text: 'x', sender: '48500600700' }, '/sender', SENDER_REASON],
    [{ to: '+48500600700', text: 'x', sender: '           ' }, '/sender', SENDER_REASON],
    [{ to: '+48500600700', text: 'x', sender: 'ACME.PL-1 ' }, '/sender', SENDER_REASON],
    [{ to: '+48500600700', text: 'x', sender: ' ACME' }, '/sender', SENDER_REASON],
    [{ to: '+48500600700', text: ' \t ' }, '/text', 'must not be only whitespace'],
    [{ to: '+48500600700', text: 'a\udc00b' }, '/text', 'contains a lone UTF-16 surrogate, which is no character; send the text as valid Unicode'],
    [{ to: '+48500600700', text: 'ab\u0000c' }, '/text', 'contains the control character U+0000 at 2, which an SMS cannot show; only tab and line breaks are allowed'],
    [{ to: '+48500600700', text: '\u200b \u2060\u00ad\ufe0f' }, '/text', 'has no visible character, only whitespace and invisible ones such as U+200B (zero-width space); the SMS would arrive looking empty'],
    [{ to: '+48500600700', text: 'x', sendAt: '9999-12-31T23:30:00Z' }, '/sendAt', 'is more than a year ahead, the furthest a send may be scheduled'],
    [{ to: '+48500600700', text: 'x', sendAt: REPEATED.iso }, '/sendAt', `falls in the hour Polish clocks repeat (02:30 on ${REPEATED.day} happens twice), and the provider takes its time in Polish local time without an offset; choose a time outside that hour`],
    [{ to: '+48500600700', text: 'x', uniqueId: 'a-b' }, '/uniqueId', 'must be 3–50 letters and digits'],
    [{ to: [''], text: 'x' }, '/to/0', 'must NOT have fewer than 1 characters'],
    [{ to: 48500600700, text: 'x' }, '/to', 'must be string; or must be array']
  ]
  for (const [body, field, reason] of reasons) {
    const answer = await post(gw, body)
    t.same(answer.body.errors, [{ field, reason }], `${JSON.stringify(body)}: the reason in words, not the pattern`)
  }
  const keyed = await post(gw, { to: '+48500600700', text: 'x' }, { ...authHeader(), 'idempotency-key': 'a\tb' })
  t.same(keyed.body.errors, [{ field: 'headers:/idempotency-key', reason: 'must be printable ASCII characters only' }])
  const malformed = await post(gw, '{"to": "+48500600700", "text": ')
  t.equal(malformed.status, 400)
  t.equal(malformed.body.code, 'GW_BODY_MALFORMED')
  const form = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { ...authHeader(), 'content-type': 'text/plain' }, body: 'to=1' })
  t.equal(form.status, 415)
  t.equal((await form.json() as { code: string }).code, 'GW_MEDIA_TYPE_UNSUPPORTED')
  t.equal(gw.simulator.received.length, 0, 'nothing reached the provider')
  for (const text of ['\u200bx', '👍\ufe0f', '\u00a0.']) {
    t.equal((await post(gw, { to: '+48500600700', text })).status, 200, `text ${JSON.stringify(text)} has something to show`)
  }
  for (const sender of ['1234', '123456789', '2waySMS', 'INFO 24', 'A']) {
    t.equal((await post(gw, { to: '+48500600700', text: 'x', sender })).status, 200, `sender ${sender}`)
  }
})

t.test('callers authenticate with a bearer API key; the key names the client', async (t) => {
  const gw = await startGateway(t)
  const missing = await post(gw, { to: '+48500600700', text: 'x' }, {})
  t.equal(missing.status, 401)
  t.equal(missing.body.code, 'GW_AUTH_MISSING')
  t.match(missing.headers.get('www-authenticate'), /^Bearer/)
  const wrong = await post(gw, { to: '+48500600700', text: 'x' }, authHeader('not-a-key-at-all-000000'))
  t.equal(wrong.status, 401)
  t.equal(wrong.body.code, 'GW_AUTH_INVALID')
  const basic = await post(gw, { to: '+48500600700', text: 'x' }, { authorization: 'Basic Zm9vOmJhcg==' })
  t.equal(basic.status, 401)
  t.equal(gw.simulator.received.length, 0)
  t.equal((await post(gw, { to: '+48500600700', text: 'x' }, authHeader(OTHER_API_KEY))).status, 200)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /sms_gateway_messages_total\{status="queued",client="shop"\} 1/)
  const line = gw.logs.entries.find((e) => e.client === 'shop' && e.msg === 'request completed')
  t.match(line, { route: '/sms', statusCode: 200, queued: 1, unsent: 0, failed: 0, unknown: 0, batches: 1 }, 'the request line names the client and the outcome')
  t.notOk(line !== undefined && 'notQueued' in line, 'no list of not-queued recipients when every one was queued')
})

t.test('AUTH_DISABLED lets anyone send, and says so at start', async (t) => {
  const gw = await startGateway(t, { env: { AUTH_DISABLED: 'true', API_KEYS: undefined } })
  t.equal((await post(gw, { to: '+48500600700', text: 'x' }, {})).status, 200)
  t.ok(gw.logs.entries.some((e) => e.level === 40 && /AUTH_DISABLED/.test(String(e.msg))))
})

t.test('with PUBLIC_URL every send carries a signed dlr_url with the provider placeholders', async (t) => {
  const gw = await startGateway(t, { env: { PUBLIC_URL: 'https://sms.example.com/', DLR_SECRET } })
  const before = Date.now()
  await post(gw, { to: '+48500600700', text: 'x' })
  const url = String(lastUpstreamBody(gw).dlr_url)
  const sentAt = Number.parseInt(new URLSearchParams(url.split('?')[1]).get('t') ?? '', 36)
  t.ok(sentAt % 100 === 0 && sentAt > before - 100 && sentAt <= Date.now(), 'the send time, to the tenth of a second')
  t.match(url, /^https:\/\/sms\.example\.com\/dlr\?t=[0-9a-z]+&e=[0-9a-z]+&sig=[\w-]+&smsid=#SMSID#&stan=#STAN#&data=#DATA#&przyczyna=#PRZYCZYNA#$/)
  t.notMatch(url, DLR_SECRET)

  // A scheduled send: latency counts from its slot, and its URL lives as long from then.
  const sendAt = new Date(Date.now() + 86_400_000)
  await post(gw, { to: '+48500600700', text: 'x', sendAt: sendAt.toISOString() })
  const scheduled = new URLSearchParams(String(lastUpstreamBody(gw).dlr_url).split('?')[1])
  const slot = Number.parseInt(scheduled.get('t') ?? '', 36)
  t.equal(slot, sendAt.getTime() - sendAt.getTime() % 100, 'signed with the scheduled time, to the tenth of a second')
  t.equal(Number.parseInt(scheduled.get('e') ?? '', 36) - slot, Number.parseInt(new URLSearchParams(url.split('?')[1]).get('e') ?? '', 36) - sentAt, 'valid as long after its slot as an immediate send\'s after its send')
})

t.test('each batch\'s dlr_url carries the time that batch left, not the call\'s start', async (t) => {
  // Batches of one, one at a time, 300 ms each: the second waits for the first's answer.
  const gw = await startGateway(t, { env: { PUBLIC_URL: 'https://sms.example.com/', DLR_SECRET, SMS_BATCH_SIZE: '1', SMS_UPSTREAM_CONCURRENCY: '1' }, simulator: { latencyMs: 300 } })
  t.equal((await post(gw, { to: ['+48500600700', '+48500600701'], text: 'x' })).status, 200)
  const [first, second] = gw.simulator.received.slice(-2).map((sent) => Number.parseInt(new URLSearchParams(String((sent.body as Record<string, unknown>).dlr_url).split('?')[1]).get('t') ?? '', 36))
  t.ok(second! - first! >= 200, `the second batch's reports are measured from when it left (${second! - first!} ms after the first), not from when it waited`)
})

t.test('provider refusals and faults map onto the documented statuses', async (t) => {
  // Short, for the hang case's 504; long enough for an ordinary answer, and the 150 ms slow one, on a loaded machine.
  const gw = await startGateway(t, { env: { SERWERSMS_TIMEOUT_MS: '1000' } })
  const cases: Array<[Parameters<typeof gw.simulator.setFault>[0], number, string, string]> = [
    [{ fault: { kind: 'provider-error', code: 3101, message: 'The message is empty' } }, 422, 'GW_PROVIDER_REFUSED', 'failed'],
    [{ fault: { kind: 'provider-error', code: 1001, type: 'InvalidUser', message: 'Wrong login or password', status: 401 } }, 502, 'GW_PROVIDER_AUTH_FAILED', 'failed'],
    [{ fault: { kind: 'provider-error', code: 1003, type: 'InvalidIP', message: 'IP address not allowed' } }, 502, 'GW_PROVIDER_AUTH_FAILED', 'failed'],
    [{ fault: { kind: 'provider-error', code: 1006, type: 'InvalidData', message: 'Invalid data format' } }, 422, 'GW_PROVIDER_REFUSED', 'failed'],
    [{ fault: { kind: 'provider-error', code: 3100, message: 'Sending is blocked', status: 503 } }, 422, 'GW_PROVIDER_REFUSED', 'failed'],
    // A code the provider does not document, with a 5xx: its server failing, maybe half-way through.
    [{ fault: { kind: 'provider-error', code: 9999, message: 'Internal error', status: 500 } }, 502, 'GW_UPSTREAM_BAD_RESPONSE', 'unknown'],
    [{ fault: { kind: 'http-error', status: 503 } }, 502, 'GW_UPSTREAM_BAD_RESPONSE', 'unknown'],
    [{ fault: { kind: 'html' } }, 502, 'GW_UPSTREAM_BAD_RESPONSE', 'unknown'],
    [{ fault: { kind: 'garbage' } }, 502, 'GW_UPSTREAM_BAD_RESPONSE', 'unknown'],
    [{ fault: { kind: 'truncated' } }, 502, 'GW_UPSTREAM_BAD_RESPONSE', 'unknown'],
    [{ fault: { kind: 'reset' } }, 502, 'GW_UPSTREAM_UNREACHABLE', 'unknown'],
    [{ fault: { kind: 'hang' } }, 504, 'GW_UPSTREAM_TIMEOUT', 'unknown']
  ]
  for (const [rule, status, code, recipientStatus] of cases) {
    gw.simulator.setFault(rule)
    const sendsBefore = gw.simulator.stats.sendRequests
    const warningsBefore = gw.logs.entries.filter((e) => e.msg === 'upstream send_sms failed').length
    const answer = await post(gw, { to: ['+48500600700', '+48500600701'], text: 'x' })
    t.equal(gw.simulator.stats.sendRequests, sendsBefore + 1, `${rule!.fault.kind}: sent once, never retried`)
    const warnings = gw.logs.entries.filter((e) => e.msg === 'upstream send_sms failed')
    t.equal(warnings.length, warningsBefore + 1, `${rule!.fault.kind}: a log line`)
    const completed = gw.logs.entries.filter((e) => e.route === '/sms').at(-1)
    t.ok(warnings.at(-1)?.reqId !== undefined && warnings.at(-1)?.reqId === completed?.reqId, `${rule!.fault.kind}: with the id of the call it belongs to`)
    t.equal(answer.status, status, rule!.fault.kind)
    t.equal(answer.contentType, 'application/problem+json; charset=utf-8')
    t.equal(answer.body.code, code, rule!.fault.kind)
    t.match(answer.body.messages, [{ status: recipientStatus }, { status: recipientStatus }], rule!.fault.kind)
    t.equal(answer.body[recipientStatus], 2)
    t.notMatch(JSON.stringify(answer.body), UPSTREAM_TOKEN)
    if (rule!.fault.kind === 'provider-error' && rule!.fault.status === 500) t.match(answer.body.detail, /HTTP 500 with an error the gateway does not know \(9999: Internal error\); the messages may have been sent/)
  }
  gw.simulator.setFault(null)
  const refusal = await post(gw, { to: '+48500600700', text: 'x' })
  t.equal(refusal.status, 200, 'the provider behaves again')

  gw.simulator.setFault({ fault: { kind: 'slow', delayMs: 150 }, times: 1 })
  t.match((await post(gw, { to: '+48500600700', text: 'x' })).body, { queued: 1 }, 'a slow answer within the timeout is fine')
  gw.simulator.setFault({ fault: { kind: 'extra-fields' }, times: 1 })
  const extra = await post(gw, { to: '+48500600700', text: 'x' })
  t.equal(extra.status, 200, 'unexpected extra fields in a valid answer are tolerated')
  t.match(extra.body.messages, [{ status: 'queued', id: /\w+/ }])

  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3101, type: 'SendError', message: 'The message is empty' } })
  const refused = await post(gw, { to: '+48500600700', text: 'x' })
  t.match(refused.body, { providerError: { code: 3101, type: 'SendError', message: 'The message is empty' }, detail: /3101/ })
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  for (const outcome of ['ok', 'provider_error', 'refused', 'bad_response', 'network', 'timeout']) {
    t.match(metrics, new RegExp(`sms_gateway_upstream_requests_total\\{outcome="${outcome}"\\} [1-9]`), outcome)
  }
  // The caller's text refused (3101, twice), apart from the account's, the gateway's own and a blocked sending (1001, 1003, 1006, 3100).
  t.match(metrics, /sms_gateway_upstream_requests_total\{outcome="refused"\} 2\n/)
  t.match(metrics, /sms_gateway_upstream_requests_total\{outcome="provider_error"\} 4\n/)
})

t.test('an unreachable provider is a 502 and nothing counts as sent', async (t) => {
  const gw = await startGateway(t, { upstreamUrl: 'http://127.0.0.1:9/' })
  const answer = await post(gw, { to: '+48500600700', text: 'x' })
  t.equal(answer.status, 502)
  t.equal(answer.body.code, 'GW_UPSTREAM_UNREACHABLE')
  t.match(answer.body.messages, [{ status: 'failed', error: { code: 'GW_UPSTREAM_UNREACHABLE' } }])
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /\nsms_gateway_messages_total\{status="failed",client="billing"\} 1\n/)
  t.match(metrics, /\nsms_gateway_messages_total\{status="queued",client="billing"\} 0\n/)
  t.match(metrics, /\nsms_gateway_upstream_requests_total\{outcome="network"\} 1\n/)
})

t.test('an accepted batch whose answer leaves recipients out is a 207, never a 200 with recipients unknown', async (t) => {
  // An answer the simulator never gives: success with its counts, but no items (details ignored).
  const upstream = createServer((_request, response) => {
    _request.resume()
    _request.on('end', () => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true,"queued":2,"unsent":0}') })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => upstream.close())
  const gw = await startGateway(t, { upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/` })
  const answer = await post(gw, { to: ['+48500600700', '+48500600701'], text: 'x' })
  t.equal(answer.status, 207)
  t.match(answer.body, { queued: 0, unknown: 2 })
  t.match(answer.body.messages, [{ status: 'unknown', error: { code: 'GW_UPSTREAM_BAD_RESPONSE' } }, { status: 'unknown' }])
})

t.test('a caller who hangs up mid-call still has the outcome logged, counted and timed', async (t) => {
  const gw = await startGateway(t, { simulator: { latencyMs: 300 } })
  const body = JSON.stringify({ to: ['+48500600700', '+48500600701'], text: 'x' })
  const call = request(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...authHeader() } })
  call.on('error', () => {})
  call.end(body)
  await waitFor('the send to reach the provider', () => gw.simulator.stats.inFlight === 1)
  call.destroy()
  await waitFor('the send to end', () => gw.simulator.stats.inFlight === 0)
  await waitFor('its log line', () => gw.logs.entries.some((entry) => entry.route === '/sms'), 3000)
  t.match(gw.logs.entries.filter((entry) => entry.route === '/sms'), [{ level: 40, client: 'billing', statusCode: 200, queued: 2, unknown: 0, callerLeft: true, msg: 'request completed, but the caller had hung up' }], 'one line')
  t.equal(gw.logs.entries.filter((entry) => entry.route === '/sms').length, 1)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /sms_gateway_messages_total\{status="queued",client="billing"\} 2/)
  t.match(metrics, /sms_gateway_http_request_duration_seconds_count\{method="POST",route="\/sms",status_code="200"\} 1\n/, 'and timed, once')
})

t.test('health and readiness', async (t) => {
  const gw = await startGateway(t)
  t.same(await (await fetch(`${gw.url}/healthz`)).json(), { status: 'ok' })
  t.match(await (await fetch(`${gw.url}/readyz`)).json(), { status: 'ready', upstream: 'serwersms', upstreamUrl: gw.simulator.url, deliveryReports: false, idempotencyStore: 'memory' })
  const notFound = await fetch(`${gw.url}/nope?secret=1`)
  t.equal(notFound.status, 404)
  t.match(await notFound.json(), { code: 'GW_NOT_FOUND', detail: 'No route for GET /nope.' })
})
