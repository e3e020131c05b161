import { createServer } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { MAX_BODY_BYTES, parseForm, startSimulator } from '../../src/simulator/simulator.js'
import { TOKEN, fetchAnswer, send, startTestSimulator, waitUntil } from './helper.js'
import { freePort } from '../helper.js'

const WARSAW_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/
const MESSAGE_ID = /^[0-9a-f]{10}$/

t.test('send_sms queues a message and answers like the seed', async (t) => {
  const simulator = await startTestSimulator(t)
  t.match(simulator.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  const answer = await send(simulator, { phone: '+48500600700', text: 'Test SerwerSMS.pl' })
  t.equal(answer.status, 200)
  t.match(answer.contentType, /^application\/json/)
  t.same(answer.json, { success: true, queued: 1, unsent: 0 })
  t.match(simulator.stats, { requests: 1, sendRequests: 1, messagesQueued: 1, messagesUnsent: 0, inFlight: 0 })
})

t.test('details lists queued and unsent items; duplicates are sent once', async (t) => {
  const simulator = await startTestSimulator(t)
  const answer = await send(simulator, {
    phone: ['+48500600700', '500 600 500', '48500600700', '0048 500-600-700', '45616', '7799123', '45616'],
    text: 'Test platformy SerwerSMS.pl',
    details: true
  })
  t.equal(answer.json.success, true)
  t.equal(answer.json.queued, 2)
  t.equal(answer.json.unsent, 2)
  const [first, second, third, fourth] = answer.json.items
  t.match(first, { phone: '+48500600700', status: 'queued', parts: 1, text: 'Test platformy SerwerSMS.pl', queued: WARSAW_TIME, id: MESSAGE_ID })
  t.same(Object.keys(first), ['id', 'phone', 'status', 'queued', 'parts', 'text'])
  t.match(second, { phone: '+48500600500', status: 'queued' })
  t.same(Object.keys(third), ['id', 'phone', 'status', 'queued', 'error_code', 'error_message', 'text'])
  t.match(third, { id: MESSAGE_ID, phone: '45616', status: 'unsent', queued: WARSAW_TIME, error_code: 3103, error_message: 'Incorrect number' })
  t.match(fourth, { phone: '7799123', status: 'unsent', error_code: 3103 })
  t.equal(answer.json.items.length, 4)
  t.equal(new Set(answer.json.items.map((item: { id: string }) => item.id)).size, 4, 'ids are unique')
  t.match(simulator.stats, { messagesQueued: 2, messagesUnsent: 2 })
})

t.test('details accepts every boolean spelling', async (t) => {
  const simulator = await startTestSimulator(t)
  for (const details of [true, 'true', 1, '1', 'TRUE']) {
    const answer = await send(simulator, { phone: '500600700', text: 'x', details })
    t.ok(Array.isArray(answer.json.items), `details=${JSON.stringify(details)}`)
  }
  for (const details of [false, 'false', 0, '0', 'yes']) {
    const answer = await send(simulator, { phone: '500600700', text: 'x', details })
    t.same(answer.json, { success: true, queued: 1, unsent: 0 }, `details=${JSON.stringify(details)}`)
  }
})

t.test('authentication', async (t) => {
  const invalidUser = { error: { code: 1001, type: 'InvalidUser', message: 'Wrong login or password' } }
  const message = { phone: '500600700', text: 'hello' }

  t.test('any non-empty credentials when none are configured', async (t) => {
    const simulator = await startTestSimulator(t)
    t.same((await send(simulator, message, { authorization: 'Bearer anything' })).json.queued, 1)
    t.same((await send(simulator, message, { authorization: 'bearer  lower-case-scheme' })).json.queued, 1)
    t.same((await send(simulator, { ...message, username: 'user', password: 'secret' }, { authorization: null })).json.queued, 1)
    for (const [body, authorization] of [
      [message, null],
      [message, 'Bearer '],
      [message, 'Basic dXNlcjpwYXNz'],
      [{ ...message, username: 'user' }, null],
      [{ ...message, username: '', password: 'secret' }, null]
    ] as const) {
      const answer = await send(simulator, body, { authorization })
      t.equal(answer.status, 200, 'provider errors come with HTTP 200')
      t.same(answer.json, invalidUser)
    }
    t.match(simulator.stats, { messagesQueued: 3 })
  })

  t.test('only the configured token', async (t) => {
    const simulator = await startTestSimulator(t, { credentials: { token: 'right' } })
    t.equal((await send(simulator, message, { authorization: 'Bearer right' })).json.queued, 1)
    t.same((await send(simulator, message, { authorization: 'Bearer wrong' })).json, invalidUser)
    t.same((await send(simulator, { ...message, username: 'u', password: 'p' }, { authorization: null })).json, invalidUser)
  })

  t.test('only the configured user', async (t) => {
    const simulator = await startTestSimulator(t, { credentials: { username: 'api', password: 'secret' } })
    t.equal((await send(simulator, { ...message, username: 'api', password: 'secret' }, { authorization: null })).json.queued, 1)
    t.same((await send(simulator, { ...message, username: 'api', password: 'wrong' }, { authorization: null })).json, invalidUser)
    t.same((await send(simulator, { ...message, username: 'other', password: 'secret' }, { authorization: null })).json, invalidUser)
    t.same((await send(simulator, message, { authorization: 'Bearer anything' })).json, invalidUser)
  })

  t.test('empty credentials mean any', async (t) => {
    const simulator = await startTestSimulator(t, { credentials: {} })
    t.equal((await send(simulator, message)).json.queued, 1)
  })
})

t.test('general errors', async (t) => {
  const simulator = await startTestSimulator(t)
  const cases: Array<[string, unknown, unknown]> = [
    ['text missing', { phone: '500600700' }, { code: 3101, type: 'SendError', message: 'The message is empty' }],
    ['text empty', { phone: '500600700', text: '' }, { code: 3101, type: 'SendError', message: 'The message is empty' }],
    ['text not a string', { phone: '500600700', text: { a: 1 } }, { code: 3101 }],
    ['phone missing', { text: 'x' }, { code: 3104, type: 'SendError', message: 'No specified phone numbers' }],
    ['phone empty', { text: 'x', phone: '' }, { code: 3104 }],
    ['phone empty list', { text: 'x', phone: [] }, { code: 3104 }],
    ['phone null', { text: 'x', phone: null }, { code: 3104 }],
    ['too long', { phone: '500600700', text: 'a'.repeat(153 * 10 + 1) }, { code: 3102, type: 'SendError', message: 'Message too long' }],
    ['unique_id count', { phone: ['500600700', '500600701'], text: 'x', unique_id: 'abc123' }, { code: 2000, type: 'ValidationRequiredError', message: /count \(1\).*\(2\)/ }],
    ['unique_id too short', { phone: '500600700', text: 'x', unique_id: 'ab' }, { code: 2000, message: /3-50 letters or digits/ }],
    ['unique_id too long', { phone: '500600700', text: 'x', unique_id: 'a'.repeat(51) }, { code: 2000 }],
    ['unique_id not alphanumeric', { phone: '500600700', text: 'x', unique_id: 'abc-1' }, { code: 2000 }],
    ['unique_id repeated', { phone: ['500600700', '500600701'], text: 'x', unique_id: ['abc', 'abc'] }, { code: 2000, message: /twice/ }],
    ['date format', { phone: '500600700', text: 'x', date: '2025-02-22T12:25:55' }, { code: 1006, type: 'InvalidData', message: /YYYY-MM-DD HH:MM:SS/ }],
    ['date out of range', { phone: '500600700', text: 'x', date: '2025-02-30 12:25:55' }, { code: 1006 }]
  ]
  for (const [name, body, error] of cases) {
    const answer = await send(simulator, body)
    t.equal(answer.status, 200, name)
    t.match(answer.json, { error }, name)
    t.notOk('success' in answer.json, name)
  }
  t.match(simulator.stats, { sendRequests: cases.length, messagesQueued: 0, messagesUnsent: 0 })
})

t.test('valid optional parameters are accepted', async (t) => {
  const simulator = await startTestSimulator(t)
  const answer = await send(simulator, {
    phone: ['500600700', '500600701', '500600700'],
    text: 'x',
    unique_id: ['abc', 'Def456', 'ghi789'],
    date: '2024-02-29 23:59:59',
    flash: false,
    speed: 1,
    sender: 'INFO',
    system: 'client_nodejs',
    details: true
  })
  t.equal(answer.json.queued, 2)
  t.equal(answer.json.items.length, 2)
  t.equal((await send(simulator, { phone: '500600700', text: 'x', unique_id: '', date: '' })).json.queued, 1, 'empty optional values are ignored')
})

t.test('parts: GSM-7 unless FULL with utf', async (t) => {
  const simulator = await startTestSimulator(t, { maxParts: 3 })
  const parts = async (body: Record<string, unknown>): Promise<number> =>
    (await send(simulator, { phone: '500600700', details: true, ...body })).json.items[0].parts
  t.equal(await parts({ text: 'a'.repeat(160) }), 1)
  t.equal(await parts({ text: 'a'.repeat(161) }), 2)
  t.equal(await parts({ text: 'ą'.repeat(160), utf: true }), 1, 'utf without sender stays ECO+ (GSM-7)')
  t.equal(await parts({ text: 'ą'.repeat(70), utf: 'true', sender: 'INFO' }), 1)
  t.equal(await parts({ text: 'ą'.repeat(71), utf: '1', sender: 'INFO' }), 2)
  t.equal(await parts({ text: 'ą'.repeat(201), utf: 1, sender: 'INFO' }), 3)
  t.match((await send(simulator, { phone: '500600700', text: 'ą'.repeat(202), utf: true, sender: 'INFO' })).json, { error: { code: 3102 } })
  t.equal((await send(simulator, { phone: '500600700', text: 'a'.repeat(459) })).json.queued, 1)
  t.match((await send(simulator, { phone: '500600700', text: 'a'.repeat(460) })).json, { error: { code: 3102 } })
})

t.test('test mode validates and answers normally but sends nothing', async (t) => {
  const simulator = await startTestSimulator(t)
  const answer = await send(simulator, { phone: ['500600700', '123'], text: 'x', test: 'true', details: '1' })
  t.match(answer.json, { success: true, queued: 1, unsent: 1 })
  t.equal(answer.json.items.length, 2)
  t.match((await send(simulator, { phone: '500600700', test: true })).json, { error: { code: 3101 } })
  t.match(simulator.stats, { messagesQueued: 0, messagesUnsent: 0, testMessages: 1 })
})

t.test('form bodies', async (t) => {
  const simulator = await startTestSimulator(t)
  const answer = await send(simulator, {
    username: 'user', password: 'secret', phone: ['500600700', '600700800'], text: 'zażółć', details: '1', utf: '0'
  }, { form: true, authorization: null })
  t.match(answer.json, { success: true, queued: 2, items: [{ phone: '+48500600700', text: 'zażółć' }, { phone: '+48600700800' }] })
  const repeated = await send(simulator, 'phone=500600700&phone=%2B48600700800&phone=500600700&text=a+b&details=true', { form: true })
  t.match(repeated.json, { queued: 2, items: [{ text: 'a b' }, { phone: '+48600700800' }] })
  const indexed = await send(simulator, 'phone[0]=500600700&phone[1]=600700800&text=x', { form: true })
  t.equal(indexed.json.queued, 2)
  t.same(simulator.received[0]?.body, {
    username: 'user', password: 'secret', phone: ['500600700', '600700800'], text: 'zażółć', details: '1', utf: '0'
  })
})

t.test('parseForm keeps single values as strings and collects repeats', async (t) => {
  t.same(parseForm('a=1&b[]=2&c=3&c=4&c=5&d[2]=6'), { a: '1', b: ['2'], c: ['3', '4', '5'], d: ['6'] })
  t.same(parseForm(''), {})
})

t.test('content types and paths', async (t) => {
  const simulator = await startTestSimulator(t)
  const body = { phone: '500600700', text: 'x' }
  t.equal((await send(simulator, body, { path: 'messages/send_sms.json' })).json.queued, 1, '.json path')
  t.equal((await send(simulator, body, { path: 'messages/send_sms/' })).json.queued, 1, 'trailing slash')
  t.equal((await send(simulator, body, { path: 'messages/send_sms?format=json' })).json.queued, 1, 'query string')
  t.equal((await send(simulator, body, { headers: { 'content-type': 'text/plain' } })).json.queued, 1, 'JSON under another type')
  t.equal((await send(simulator, 'phone=500600700&text=x', { headers: { 'content-type': 'text/plain' } })).json.queued, 1, 'form under another type')
  t.equal((await send(simulator, JSON.stringify(body), { headers: { 'content-type': 'application/json; charset=utf-8' } })).json.queued, 1)
  t.match((await send(simulator, '', {})).json, { error: { code: 3101 } }, 'empty JSON body')
  t.match((await send(simulator, '[1,2]', {})).json, { error: { code: 3101 } }, 'a JSON array is no parameter set')

  const unknown = await send(simulator, body, { path: 'messages/send_mms' })
  t.equal(unknown.status, 200)
  t.match(unknown.json, { error: { code: 1000, type: 'InvalidAction', message: /send_mms/ } })
  t.match((await fetchAnswer(`${simulator.url}messages/send_sms`, { method: 'DELETE' })).json, { error: { code: 1000 } }, 'send_sms takes POST or GET only')
  t.match((await send(simulator, body, { path: 'messages/send_sms.xml' })).json, { error: { code: 1000 } })

  const malformed = await send(simulator, '{"phone": "500600700", "text": ', {})
  t.equal(malformed.status, 200)
  t.same(malformed.json, { error: { code: 1006, type: 'InvalidData', message: 'Malformed request body' } })
  t.match(simulator.stats, { requests: 12, sendRequests: 9, messagesQueued: 6 })
})

t.test('100,000 numbers in one request', async (t) => {
  const simulator = await startTestSimulator(t, { recordRequests: 2 })
  const phones = Array.from({ length: 100_000 }, (_, index) => `+48${500_000_000 + index}`)
  const uniqueIds = phones.map((_, index) => `id${index}`)
  const answer = await send(simulator, { phone: phones, unique_id: uniqueIds, text: 'bulk', details: true })
  t.equal(answer.json.queued, 100_000)
  t.equal(answer.json.items.length, 100_000)
  t.equal(new Set(answer.json.items.map((item: { id: string }) => item.id)).size, 100_000, 'ids are unique')
})

t.test('bodies over the limit get 413 and a provider error', async (t) => {
  const simulator = await startTestSimulator(t)
  const answer = await send(simulator, JSON.stringify({ text: 'x', phone: 'a'.repeat(MAX_BODY_BYTES) }), {})
  t.equal(answer.status, 413)
  t.match(answer.json, { error: { code: 1006 } })
})

t.test('recorded requests', async (t) => {
  t.test('keeps the last N with path, headers and body', async (t) => {
    const simulator = await startTestSimulator(t, { recordRequests: 2 })
    for (const text of ['one', 'two', 'three']) await send(simulator, { phone: '500600700', text }, { path: 'messages/send_sms.json?x=1' })
    t.equal(simulator.received.length, 2)
    t.match(simulator.received, [
      { path: '/messages/send_sms.json', headers: { authorization: `Bearer ${TOKEN}` }, body: { text: 'two' } },
      { body: { text: 'three' } }
    ])
    t.ok(typeof simulator.received[0]?.at === 'number')
  })

  t.test('records nothing when disabled', async (t) => {
    const simulator = await startTestSimulator(t, { recordRequests: false })
    await send(simulator, { phone: '500600700', text: 'x' })
    t.same(simulator.received, [])
    t.equal(simulator.stats.sendRequests, 1)
  })
})

t.test('latency delays every send_sms answer', async (t) => {
  const simulator = await startTestSimulator(t, { latencyMs: 600 })
  const started = performance.now()
  await send(simulator, { phone: '500600700', text: 'x' })
  t.ok(performance.now() - started >= 590)
  // setLatency(0) takes effect for the next send, without timing it: one sent before is held for
  // ten minutes, and the next one is answered while it is still held.
  simulator.setLatency(600_000)
  const held = send(simulator, { phone: '500600701', text: 'x' })
  held.catch(() => {})
  await waitUntil(() => simulator.stats.inFlight === 1)
  simulator.setLatency(0)
  let answered = false
  const next = send(simulator, { phone: '500600702', text: 'x' }).finally(() => { answered = true })
  next.catch(() => {})
  await waitUntil(() => answered)
  t.equal((await next).json.queued, 1)
  t.equal(simulator.stats.inFlight, 1, 'answered while the one sent at the old latency is still held')
  t.throws(() => simulator.setLatency(-1), RangeError)
  t.throws(() => simulator.setLatency(Number.NaN), RangeError)
})

t.test('inFlight counts answers being delayed', async (t) => {
  const simulator = await startTestSimulator(t, { latencyMs: 300 })
  const pending = send(simulator, { phone: '500600700', text: 'x' })
  await waitUntil(() => simulator.stats.sendRequests === 1)
  t.equal(simulator.stats.inFlight, 1)
  await pending
  t.equal(simulator.stats.inFlight, 0)
})

t.test('reset clears received, stats and the fault', async (t) => {
  const simulator = await startTestSimulator(t)
  await send(simulator, { phone: '500600700', text: 'x' })
  simulator.setFault({ fault: { kind: 'html' } })
  simulator.reset()
  t.same(simulator.received, [])
  t.same(simulator.stats, {
    requests: 0, sendRequests: 0, messagesQueued: 0, messagesUnsent: 0, testMessages: 0, deliveryReportsSent: 0, deliveryReportsFailed: 0, inFlight: 0
  })
  t.equal((await send(simulator, { phone: '500600700', text: 'x' })).json.queued, 1)
})

t.test('close cuts delayed answers and is idempotent', async (t) => {
  const simulator = await startSimulator({ latencyMs: 10_000, logger: false })
  const pending = request(`${simulator.url}messages/send_sms`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: '{}'
  })
  await waitUntil(() => simulator.stats.inFlight === 1)
  // A close that waited for the delayed answer would let it through: the request would not fail.
  await Promise.all([simulator.close(), simulator.close()])
  await t.rejects(pending)
})

t.test('listens on the requested host and port', async (t) => {
  // Below the ephemeral range: a port a listen on 0 handed out may be taken by any connection meanwhile.
  const port = await freePort()
  const simulator = await startTestSimulator(t, { host: '127.0.0.1', port })
  t.equal(simulator.url, `http://127.0.0.1:${port}/`)
})

/** Whether this machine can listen on the IPv6 loopback at all, asked of Node itself, not of the simulator under test. */
async function hasIpv6Loopback (): Promise<boolean> {
  const server = createServer()
  return await new Promise((resolve) => {
    server.once('error', () => { resolve(false) })
    server.listen(0, '::1', () => { server.close(() => { resolve(true) }) })
  })
}

t.test('IPv6 hosts are bracketed in the URL', async (t) => {
  // Skipped only where Node itself cannot listen on ::1 (a container without IPv6): any failure
  // of the simulator's own is a failure.
  if (!(await hasIpv6Loopback())) {
    t.pass('no IPv6 loopback here', { skip: true })
    return
  }
  const simulator = await startTestSimulator(t, { host: '::1' })
  t.match(simulator.url, /^http:\/\/\[::1\]:\d+\/$/)
  t.equal((await send(simulator, { phone: '500600700', text: 'x' })).json.queued, 1)
})

t.test('logs through the given pino logger', async (t) => {
  const { pino } = await import('pino')
  const lines: string[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line) } })
  const simulator = await startTestSimulator(t, { logger })
  await send(simulator, { phone: '500600700', text: 'x' })
  t.notOk(lines.some((line) => line.includes('incoming request')), 'no per-request logging')
})

t.test('send_sms also answers GET with the fields in the query string', async (t) => {
  const { startSimulator } = await import('../../src/simulator/simulator.js')
  const simulator = await startSimulator({ credentials: { token: 'tok' }, logger: false, deliveryReports: false })
  t.teardown(() => simulator.close())
  const query = new URLSearchParams({ phone: '500600700', text: 'hello', details: 'true' })
  const answer = await fetch(`${simulator.url}messages/send_sms?${query.toString()}`, { headers: { authorization: 'Bearer tok' } })
  t.equal(answer.status, 200)
  t.match(await answer.json(), { success: true, queued: 1, items: [{ phone: '+48500600700', status: 'queued' }] })
  t.equal(simulator.stats.messagesQueued, 1)
  const empty = await fetch(`${simulator.url}messages/send_sms.json`, { headers: { authorization: 'Bearer tok' } })
  t.match(await empty.json(), { error: { code: 3101 } })
})
