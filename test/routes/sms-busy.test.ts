import { connect } from 'node:net'
import t from 'tap'
import { authHeader, sendKeyed, startGateway, TEST_API_KEY, type GatewayUnderTest } from '../helper.js'
import { waitFor } from '../servers.js'

const phones = (from: number, count: number) => Array.from({ length: count }, (_, i) => `+4850${String(from + i).padStart(7, '0')}`)

async function send (gw: GatewayUnderTest, to: string[], signal?: AbortSignal): Promise<Response> {
  return await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to, text: 'x' }), signal })
}

async function metric (gw: GatewayUnderTest, name: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  if (line === undefined) throw new Error(`no ${name} in /metrics`)
  return Number(line.slice(name.length + 1))
}

t.test('a call that would take the gateway past SMS_MAX_RECIPIENTS_IN_FLIGHT is refused before it sends, and its key stays free', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '5', SMS_MAX_RECIPIENTS_IN_FLIGHT: '8' }, simulator: { latencyMs: 1000 } })
  t.equal(await metric(gw, 'sms_gateway_recipients_in_flight_limit'), 8)
  const first = send(gw, phones(0, 5))
  await waitFor('the first call to reach the provider', () => gw.simulator.stats.inFlight === 1)
  t.equal(await metric(gw, 'sms_gateway_recipients_in_flight'), 5)

  const busy = await sendKeyed(gw.url, 'busy-1', { body: { to: phones(10, 4), text: 'x' } })
  t.equal(busy.status, 503)
  t.equal(busy.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(busy.headers.get('retry-after'), '5')
  t.same(await busy.json(), {
    type: 'urn:sms-gateway:problem:busy',
    title: 'The gateway has as many recipients in flight as it takes',
    status: 503,
    detail: 'This gateway is sending to 5 recipients of the 8 it takes at once (SMS_MAX_RECIPIENTS_IN_FLIGHT), and this call\'s 4 would go past them. Nothing was sent: retry after the Retry-After seconds, with the same Idempotency-Key.',
    code: 'GW_BUSY',
    limit: 8
  })
  t.equal(gw.simulator.stats.sendRequests, 1, 'nothing of the refused call was sent')
  t.match(await (await fetch(`${gw.url}/metrics`)).text(), /sms_gateway_busy_refusals_total\{client="billing"\} 1\n/)

  // 5 + 3 fit exactly.
  const fitting = await send(gw, phones(20, 3))
  t.equal(fitting.status, 200, 'a call that fits goes')
  t.equal((await first).status, 200)
  t.equal(await metric(gw, 'sms_gateway_recipients_in_flight'), 0, 'both calls gave their recipients back')

  const retry = await sendKeyed(gw.url, 'busy-1', { body: { to: phones(10, 4), text: 'x' } })
  t.equal(retry.status, 200, 'the key was released: its retry sends, once')
  t.equal(retry.headers.get('idempotent-replayed'), null)
  t.equal(gw.simulator.stats.messagesQueued, 12)
})

t.test('a call gives its recipients back however it ends: refused upstream, or its caller gone', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '5', SMS_MAX_RECIPIENTS_IN_FLIGHT: '5' }, simulator: { latencyMs: 300 } })
  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3001, message: 'No FULL messages left' }, times: 1 })
  t.equal((await send(gw, phones(0, 5))).status, 422)
  gw.simulator.setFault({ fault: { kind: 'reset' }, times: 1 })
  t.equal((await send(gw, phones(0, 5))).status, 502)
  const abandoned = new AbortController()
  const hungUp = send(gw, phones(0, 5), abandoned.signal).catch((error: Error) => error)
  await waitFor('the call to reach the provider', () => gw.simulator.stats.inFlight === 1)
  abandoned.abort()
  t.type(await hungUp, Error)
  await waitFor('the call its caller left to end', async () => await metric(gw, 'sms_gateway_recipients_in_flight') === 0)
  t.equal((await send(gw, phones(0, 5))).status, 200, 'the whole budget is there again')
})

t.test('a call holds its recipients until its answer is taken: an answer left unread holds the call', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '5', SMS_MAX_RECIPIENTS_IN_FLIGHT: '5' } })
  // Pipelined behind answers larger than loopback's buffers take, on a connection that reads
  // nothing, the call's answer is made but never written.
  const body = JSON.stringify({ to: phones(0, 5), text: 'x' })
  const connection = connect(Number(new URL(gw.url).port), '127.0.0.1')
  connection.on('error', () => {})
  connection.pause()
  connection.write('GET /docs/static/swagger-ui-bundle.js HTTP/1.1\r\nHost: gw\r\n\r\n'.repeat(14) +
    `POST /sms HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  // Counted once the provider has answered, in the same turn as the answer is made.
  await waitFor('the call to be sent and answered', async () => (await (await fetch(`${gw.url}/metrics`)).text()).includes('sms_gateway_messages_total{status="queued",client="billing"} 5\n'))
  t.equal(await metric(gw, 'sms_gateway_recipients_in_flight'), 5, 'its recipients are still held')
  t.equal((await send(gw, phones(10, 1))).status, 503, 'another call is refused meanwhile')

  connection.destroy()
  await waitFor('the recipients to be given back once the connection goes', async () => await metric(gw, 'sms_gateway_recipients_in_flight') === 0)
  t.equal((await send(gw, phones(10, 5))).status, 200)
})
