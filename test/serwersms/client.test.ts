import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createSerwerSmsClient, type SendSmsFields } from '../../src/serwersms/client.js'
import { startSimulator } from '../../src/simulator/simulator.js'
import { UPSTREAM_TOKEN } from '../helper.js'

/**
 * src/serwersms/client.ts against real HTTP servers: the deadline also holds for a request still
 * waiting for a socket, which then fails as never sent and is never sent (a request reported as
 * never sent never reaches the provider); an answer that arrives in pieces is read whole.
 */

const fields = (phone: string): SendSmsFields => ({ system: 'test', details: true, text: 'Hello', phone: [phone] })

t.test('a request queued behind a full pool fails at its deadline, and reaches the provider only if reported as possibly sent', async (t) => {
  // A deadline long enough for the first request to be connected and written on a loaded machine,
  // and a provider slow enough (by 1.5 s) that no answer comes before it.
  const simulator = await startSimulator({ credentials: { token: UPSTREAM_TOKEN }, deliveryReports: false, logger: false, latencyMs: 2500 })
  t.teardown(() => simulator.close())
  const client = createSerwerSmsClient({ apiUrl: simulator.url, auth: { kind: 'token', token: UPSTREAM_TOKEN }, timeoutMs: 1000, maxSockets: 1 })
  t.teardown(() => client.close())

  const [first, queued] = await Promise.all([client.sendSms(fields('+48500600700')), client.sendSms(fields('+48500600701'))])
  t.match(first, { outcome: 'timeout', requestSent: true }, 'the request on the socket may have been sent')
  t.match(queued, { outcome: 'timeout' }, 'the one waiting for a socket failed at its deadline too')

  // The first request's socket is closed at its deadline, so the pool has room again: the queued
  // request would go out now if it had not been cancelled. Wait past the simulator's latency.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const reached = simulator.received.map((send) => send.body.phone)
  t.same(reached[0], ['+48500600700'], 'the first request reached the provider')
  // What must hold whatever the timing: a request reported as never sent never reaches the
  // provider. Without the deadline holding in the queue, the queued request failed as never sent
  // and then went out on the socket the first one freed. Usually its deadline comes in the same
  // pass of the timers as the first's, so it is still waiting and is never sent; on a loaded
  // machine the two deadlines can be a few milliseconds apart, and then it may get the new socket
  // before its own deadline and leave legitimately — reported as possibly sent.
  const queuedMayHaveLeft = queued.outcome === 'timeout' && queued.requestSent
  t.equal(reached.length === 2, queuedMayHaveLeft, `the queued request reached the provider only if reported as possibly sent (requestSent: ${String(queuedMayHaveLeft)})`)
  t.ok(reached.length <= 2, 'nothing else was sent')

  simulator.setLatency(0)
  t.match(await client.sendSms(fields('+48500600702')), { outcome: 'ok' }, 'the pool still works')
})

t.test('an answer that arrives in pieces, split inside a character, is read whole', async (t) => {
  const answer = Buffer.from(JSON.stringify({
    success: true,
    queued: 0,
    unsent: 1,
    items: [{ id: 'a1b2c3', phone: '+48500600700', status: 'unsent', error_code: 3103, error_message: 'Błędny numer' }]
  }))
  const split = answer.indexOf(Buffer.from('ł')) + 1
  t.equal(answer[split - 1], 0xc5, 'the first piece ends with the first byte of "ł"')
  const upstream = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      // Chunked, with a pause between the pieces, so the client gets them as separate chunks.
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write(answer.subarray(0, split))
      setTimeout(() => response.end(answer.subarray(split)), 50)
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const client = createSerwerSmsClient({ apiUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, auth: { kind: 'token', token: UPSTREAM_TOKEN }, timeoutMs: 2_000 })
  t.teardown(() => client.close())

  t.same(await client.sendSms(fields('+48500600700')), { outcome: 'ok', response: JSON.parse(answer.toString('utf8')) })
})
