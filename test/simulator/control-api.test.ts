import t from 'tap'
import { fetchAnswer, send, startTestSimulator } from './helper.js'

const MESSAGE = { phone: '500600700', text: 'hello' }
const JSON_HEADERS = { 'content-type': 'application/json' }

t.test('the control API drives the simulator over HTTP', async (t) => {
  const simulator = await startTestSimulator(t)
  const control = async (method: 'GET' | 'POST', path: string, body?: unknown) =>
    await fetchAnswer(`${simulator.url}__simulator/${path}`, {
      method,
      ...(body === undefined ? {} : { headers: JSON_HEADERS, body: JSON.stringify(body) })
    })

  t.test('fault', async (t) => {
    const rule = { fault: { kind: 'http-error', status: 503 }, times: 1 }
    const set = await control('POST', 'fault', rule)
    t.equal(set.status, 200)
    t.same(set.json, { fault: rule })
    t.same((await control('GET', 'fault')).json, { fault: rule })
    t.equal((await send(simulator, MESSAGE)).status, 503)
    t.equal((await send(simulator, MESSAGE)).status, 200)

    await control('POST', 'fault', { fault: { kind: 'html' } })
    t.same((await control('POST', 'fault', null)).json, { fault: null }, 'null clears')
    t.equal((await send(simulator, MESSAGE)).status, 200)
    await control('POST', 'fault', { fault: { kind: 'html' } })
    t.same((await control('POST', 'fault', {})).json, { fault: null }, '{} clears')
    await control('POST', 'fault', { fault: { kind: 'html' } })
    t.same((await fetchAnswer(`${simulator.url}__simulator/fault`, { method: 'POST' })).json, { fault: null }, 'no body clears')
    t.equal((await send(simulator, MESSAGE)).status, 200)

    const bad = await control('POST', 'fault', { fault: { kind: 'slow' } })
    t.equal(bad.status, 400)
    t.match(bad.json, { error: /delayMs/ })
    const malformed = await fetchAnswer(`${simulator.url}__simulator/fault`, { method: 'POST', headers: JSON_HEADERS, body: '{"fault":' })
    t.equal(malformed.status, 400)
    t.match(malformed.json, { error: /Malformed JSON/ })
  })

  t.test('latency', async (t) => {
    t.same((await control('POST', 'latency', { ms: 120 })).json, { ms: 120 })
    const started = performance.now()
    await send(simulator, MESSAGE)
    t.ok(performance.now() - started >= 110)
    t.same((await control('POST', 'latency', { ms: 0 })).json, { ms: 0 })
    for (const body of [{ ms: -1 }, { ms: '5' }, {}, null]) {
      t.equal((await control('POST', 'latency', body)).status, 400, JSON.stringify(body))
    }
  })

  t.test('stats, received and reset', async (t) => {
    await control('POST', 'reset')
    await send(simulator, { ...MESSAGE, text: 'first' })
    await send(simulator, { ...MESSAGE, text: 'second' })
    await send(simulator, MESSAGE, { path: 'nothing/here' })
    const stats = await control('GET', 'stats')
    t.same(stats.json, {
      requests: 3, sendRequests: 2, messagesQueued: 2, messagesUnsent: 0, testMessages: 0, deliveryReportsSent: 0, deliveryReportsFailed: 0, inFlight: 0
    }, 'control calls are not counted')

    const all = await control('GET', 'received')
    t.equal(all.json.length, 2)
    t.match(all.json[0], { path: '/messages/send_sms', at: Number, headers: { authorization: '[redacted]' }, body: { text: 'first' } })
    t.match((await control('GET', 'received?last=1')).json, [{ body: { text: 'second' } }])
    t.same((await control('GET', 'received?last=0')).json, [])
    t.equal((await control('GET', 'received?last=50')).json.length, 2)
    t.equal((await control('GET', 'received?last=-1')).status, 400)
    t.equal((await control('GET', 'received?last=x')).status, 400)

    t.same((await control('POST', 'reset')).json, { ok: true })
    t.same((await control('GET', 'received')).json, [])
    t.match((await control('GET', 'stats')).json, { requests: 0, sendRequests: 0 })
  })

  // A gateway pointed at a shared simulator by mistake sends it the operator's real token or password.
  t.test('received serves no credentials, and the in-process records keep them', async (t) => {
    await control('POST', 'reset')
    await send(simulator, { ...MESSAGE, username: 'shop-api', password: 'real-password' }, { authorization: 'Bearer real-token' })
    await send(simulator, { ...MESSAGE, username: 'shop-api', password: 'real-password' }, { form: true, authorization: null, headers: { 'proxy-authorization': 'Basic cHJveHk6cHc=' } })
    for (const path of ['received', 'received?last=2']) {
      const served = await control('GET', path)
      t.notMatch(served.text, /real-token|real-password|cHJveHk6cHc=/, `${path}: neither the token nor the password`)
      t.match(served.json, [
        { headers: { authorization: '[redacted]' }, body: { username: 'shop-api', password: '[redacted]', text: 'hello' } },
        { headers: { 'proxy-authorization': '[redacted]' }, body: { username: 'shop-api', password: '[redacted]' } }
      ], 'what the credential was is gone, that there was one is kept')
      t.notOk('authorization' in served.json[1].headers, 'no header appears that was not sent')
    }
    t.equal(simulator.received[0]?.headers.authorization, 'Bearer real-token')
    t.equal(simulator.received[1]?.body.password, 'real-password')
  })
})
