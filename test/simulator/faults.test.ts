import t from 'tap'
import { request } from 'undici'
import { FaultSchedule, addExtraFields, cannedFaultResponse, parseFaultRule, truncateBody } from '../../src/simulator/faults.js'
import { TOKEN, send, startTestSimulator, waitUntil } from './helper.js'

const MESSAGE = { phone: ['500600700', '600700800'], text: 'hello', details: true }

t.test('slow answers correctly, late', async (t) => {
  const simulator = await startTestSimulator(t, { latencyMs: 20 })
  simulator.setFault({ fault: { kind: 'slow', delayMs: 200 } })
  const started = performance.now()
  const answer = await send(simulator, MESSAGE)
  t.ok(performance.now() - started >= 210, 'latency and delay add up')
  t.match(answer.json, { success: true, queued: 2 })
  t.equal(simulator.stats.messagesQueued, 2)
})

t.test('hang reads the request and never answers', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'hang' }, times: 2 })
  const timedOut = request(`${simulator.url}messages/send_sms`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(MESSAGE), headersTimeout: 200
  })
  await t.rejects(timedOut, { code: 'UND_ERR_HEADERS_TIMEOUT' })
  await waitUntil(() => simulator.stats.inFlight === 0)
  t.pass('a socket closed by the client is no longer in flight')

  const hanging = request(`${simulator.url}messages/send_sms`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(MESSAGE)
  })
  await waitUntil(() => simulator.stats.sendRequests === 2)
  t.match(simulator.stats, { sendRequests: 2, inFlight: 1, messagesQueued: 0 })
  t.equal(simulator.received.length, 2, 'the request was read')
  // The request hangs for good: a close that waited for it would never end.
  await simulator.close()
  await t.rejects(hanging, 'close destroys the hanging socket')
})

t.test('reset destroys the socket after reading the request', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'reset' }, times: 1 })
  await t.rejects(send(simulator, MESSAGE), { code: /UND_ERR_SOCKET|ECONNRESET/ })
  t.match(simulator.stats, { sendRequests: 1, messagesQueued: 0, inFlight: 0 })
  t.equal(simulator.received.length, 1)
  t.equal((await send(simulator, MESSAGE)).json.queued, 2, 'behaves again afterwards')
})

t.test('http-error answers with that status and a short text', async (t) => {
  const simulator = await startTestSimulator(t)
  for (const status of [503, 500, 429, 401]) {
    simulator.setFault({ fault: { kind: 'http-error', status } })
    const answer = await send(simulator, MESSAGE)
    t.equal(answer.status, status)
    t.match(answer.contentType, /^text\/plain/)
    t.ok(answer.text.length > 0 && answer.text.length < 100)
  }
  simulator.setFault({ fault: { kind: 'http-error', status: 599 } })
  t.equal((await send(simulator, MESSAGE)).text, 'HTTP 599')
  t.equal(simulator.stats.messagesQueued, 0, 'nothing is sent when the answer is an error')
})

t.test('html answers 502 with a proxy error page', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'html' } })
  const answer = await send(simulator, MESSAGE)
  t.equal(answer.status, 502)
  t.match(answer.contentType, /^text\/html/)
  t.match(answer.text, /<html>[\s\S]*502 Bad Gateway/)
})

t.test('garbage answers 200 JSON that is not JSON', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'garbage' } })
  const answer = await send(simulator, MESSAGE)
  t.equal(answer.status, 200)
  t.match(answer.contentType, /^application\/json/)
  t.equal(answer.json, undefined)
  t.throws(() => JSON.parse(answer.text))
})

t.test('truncated answers the correct JSON cut in half', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'truncated' } })
  const answer = await send(simulator, MESSAGE)
  t.equal(answer.status, 200)
  t.match(answer.contentType, /^application\/json/)
  t.match(answer.text, /^\{"success":true,"queued":2,"unsent":0,"items":\[/)
  t.throws(() => JSON.parse(answer.text))
  t.equal(simulator.stats.messagesQueued, 2, 'the provider did queue the messages')
})

t.test('provider-error answers an error body', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'provider-error', code: 3100 } })
  let answer = await send(simulator, MESSAGE)
  t.equal(answer.status, 200)
  t.same(answer.json, { error: { code: 3100, type: 'SendError', message: 'Simulated provider error' } })

  simulator.setFault({ fault: { kind: 'provider-error', code: 1002, message: 'No API access', status: 403 } })
  answer = await send(simulator, MESSAGE)
  t.equal(answer.status, 403)
  t.same(answer.json, { error: { code: 1002, type: 'InvalidRole', message: 'No API access' } })

  simulator.setFault({ fault: { kind: 'provider-error', code: 9999, type: 'Custom' } })
  t.same((await send(simulator, MESSAGE)).json, { error: { code: 9999, type: 'Custom', message: 'Simulated provider error' } })
  simulator.setFault({ fault: { kind: 'provider-error', code: 9999 } })
  t.match((await send(simulator, MESSAGE)).json, { error: { type: 'UnknownError' } })
  t.equal(simulator.stats.messagesQueued, 0)
})

t.test('extra-fields adds unexpected fields at the top level and in each item', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'extra-fields' } })
  const answer = await send(simulator, MESSAGE)
  t.match(answer.json, { success: true, queued: 2, unsent: 0, simulator_extra: String })
  t.equal(answer.json.items.length, 2)
  for (const item of answer.json.items) t.match(item, { status: 'queued', phone: /^\+48/, simulator_extra: String })
  t.same(Object.keys((await send(simulator, { ...MESSAGE, details: false })).json).sort(), ['cost', 'queued', 'simulator_extra', 'success', 'unsent'])
  t.equal(simulator.stats.messagesQueued, 4)
})

t.test('afterRequests and times', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'http-error', status: 503 }, afterRequests: 2, times: 2 })
  const statuses = []
  for (let index = 0; index < 6; index++) statuses.push((await send(simulator, MESSAGE)).status)
  t.same(statuses, [200, 200, 503, 503, 200, 200])

  simulator.setFault({ fault: { kind: 'html' }, afterRequests: 1 })
  statuses.length = 0
  for (let index = 0; index < 4; index++) statuses.push((await send(simulator, MESSAGE)).status)
  t.same(statuses, [200, 502, 502, 502], 'forever without times')

  await send(simulator, MESSAGE, { path: 'messages/unknown' })
  t.equal((await send(simulator, MESSAGE)).status, 502, 'only send_sms requests count')
  simulator.setFault(null)
  t.equal((await send(simulator, MESSAGE)).status, 200)
})

t.test('faults apply to invalid requests too', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'truncated' } })
  const answer = await send(simulator, { text: 'x' }, { authorization: null })
  t.equal(answer.text, truncateBody(JSON.stringify({ error: { code: 1001, type: 'InvalidUser', message: 'Wrong login or password' } })))
  simulator.setFault({ fault: { kind: 'extra-fields' } })
  t.match((await send(simulator, { text: 'x' })).json, { error: { code: 3104 }, simulator_extra: String })
})

t.test('setFault rejects a malformed rule', async (t) => {
  const simulator = await startTestSimulator(t)
  t.throws(() => simulator.setFault({ fault: { kind: 'slow', delayMs: -1 } }), TypeError)
  t.throws(() => simulator.setFault({ fault: { kind: 'nope' } } as never), /fault\.kind must be one of/)
})

t.test('parseFaultRule', async (t) => {
  t.same(parseFaultRule(null), { rule: null })
  t.same(parseFaultRule(undefined), { rule: null })
  t.same(parseFaultRule({}), { rule: null })
  t.same(parseFaultRule({ fault: { kind: 'hang' }, times: 0 }), { rule: { fault: { kind: 'hang' }, times: 0 } })
  t.notOk('problem' in parseFaultRule({ fault: { kind: 'provider-error', code: 1, message: 'm', type: 'T', status: 201 } }))
  const problems: unknown[] = [
    [],
    'hang',
    { fault: 'hang' },
    { fault: { kind: 'nope' } },
    { fault: { kind: 'hang' }, afterRequests: -1 },
    { fault: { kind: 'hang' }, times: 1.5 },
    { fault: { kind: 'slow' } },
    { fault: { kind: 'slow', delayMs: Infinity } },
    { fault: { kind: 'http-error', status: 200 } },
    { fault: { kind: 'http-error', status: 600 } },
    { fault: { kind: 'provider-error' } },
    { fault: { kind: 'provider-error', code: 1, message: 2 } },
    { fault: { kind: 'provider-error', code: 1, type: 2 } },
    { fault: { kind: 'provider-error', code: 1, status: 99 } }
  ]
  for (const value of problems) t.ok('problem' in parseFaultRule(value), JSON.stringify(value))
})

t.test('FaultSchedule counts from the moment a rule is set', async (t) => {
  const schedule = new FaultSchedule()
  t.equal(schedule.next(), undefined)
  const fault = { kind: 'garbage' } as const
  schedule.set({ fault, afterRequests: 1, times: 1 })
  t.same([schedule.next(), schedule.next(), schedule.next()], [undefined, fault, undefined])
  schedule.set({ fault, times: 1 })
  t.equal(schedule.next(), fault, 'setting again restarts the count')
  t.same(schedule.rule, { fault, times: 1 })
})

t.test('canned responses and body helpers', async (t) => {
  for (const kind of ['slow', 'hang', 'reset', 'truncated', 'extra-fields'] as const) {
    t.equal(cannedFaultResponse(kind === 'slow' ? { kind, delayMs: 1 } : { kind }), undefined, kind)
  }
  t.equal(truncateBody('{"a":1}'), '{"a')
  t.same(addExtraFields({ error: { code: 1 } }), { error: { code: 1 }, simulator_extra: 'unexpected top-level field', cost: 0.16 })
})
