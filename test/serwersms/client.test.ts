import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createSerwerSmsClient, credentialSpellings, MAX_ANSWER_BYTES, type SendSmsFields } from '../../src/serwersms/client.js'
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

/** A stand-in provider that answers every request with `body` (a Buffer, written in 64-KB pieces). */
async function providerAnswering (t: Test, status: number, body: Buffer): Promise<string> {
  const upstream = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      response.writeHead(status, { 'content-type': 'application/json' })
      for (let at = 0; at < body.length; at += 65_536) response.write(body.subarray(at, at + 65_536))
      response.end()
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`
}

t.test('an answer larger than MAX_ANSWER_BYTES is a bad response, not read whole; one of exactly that size is read', async (t) => {
  const ok = JSON.stringify({ success: true, queued: 1, unsent: 0, items: [{ id: 'a1', phone: '+48500600700', status: 'queued', parts: 1 }] })
  const exact = Buffer.from(ok.padEnd(MAX_ANSWER_BYTES, ' '))
  const exactClient = createSerwerSmsClient({ apiUrl: await providerAnswering(t, 200, exact), auth: { kind: 'token', token: UPSTREAM_TOKEN }, timeoutMs: 5_000 })
  t.teardown(() => exactClient.close())
  t.match(await exactClient.sendSms(fields('+48500600700')), { outcome: 'ok' }, `${MAX_ANSWER_BYTES} bytes are read`)

  const over = Buffer.from(ok.padEnd(MAX_ANSWER_BYTES + 1, ' '))
  const client = createSerwerSmsClient({ apiUrl: await providerAnswering(t, 502, over), auth: { kind: 'token', token: UPSTREAM_TOKEN }, timeoutMs: 5_000 })
  t.teardown(() => client.close())
  t.same(await client.sendSms(fields('+48500600700')), { outcome: 'bad_response', statusCode: 502, detail: `an answer of more than ${MAX_ANSWER_BYTES} bytes (HTTP 502)` }, 'one byte more: a bad response (the recipients may have been sent)')
  t.same(await client.sendSms(fields('+48500600701')), { outcome: 'bad_response', statusCode: 502, detail: `an answer of more than ${MAX_ANSWER_BYTES} bytes (HTTP 502)` }, 'and the client goes on working')
})

t.test('an answer repeating a 5,000-character text for 200 recipients, escaped as PHP writes it, is read', async (t) => {
  const text = 'Zażółć gęślą jaźń. '.repeat(264).slice(0, 5000)
  const items = Array.from({ length: 200 }, (_, i) => ({ id: `id${i}`, phone: `+48500600${String(i).padStart(3, '0')}`, status: 'queued', queued: '2026-11-25 12:00:00', parts: 72, text }))
  // PHP's json_encode writes every character beyond ASCII as \uXXXX.
  const escaped = Buffer.from(JSON.stringify({ success: true, queued: 200, unsent: 0, items }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
  t.ok(escaped.length > 1024 * 1024, `${escaped.length} bytes`)
  const client = createSerwerSmsClient({ apiUrl: await providerAnswering(t, 200, escaped), auth: { kind: 'token', token: UPSTREAM_TOKEN }, timeoutMs: 10_000 })
  t.teardown(() => client.close())
  const outcome = await client.sendSms(fields('+48500600700'))
  t.match(outcome, { outcome: 'ok', response: { queued: 200 } })
  t.equal(outcome.outcome === 'ok' ? (outcome.response.items?.[199] as { text?: string } | undefined)?.text : undefined, text, 'read as the provider wrote it')
})

t.test('a credential is looked for in every spelling a provider may quote it in, longest first', async (t) => {
  t.same(credentialSpellings('abc'), [], 'shorter than 4 characters: not looked for')
  const spellings = credentialSpellings('pw d/+!*~')
  for (const spelling of ['pw d/+!*~', 'pw%20d%2F%2B!*~', 'pw%20d%2f%2b!*~', 'pw+d%2F%2B%21*%7E', 'pw+d%2f%2b%21*%7e', 'pw+d%2F%2B%21%2A%7E', 'pw d\\/+!*~']) {
    t.ok(spellings.includes(spelling), spelling)
  }
  t.same(spellings, [...spellings].sort((a, b) => b.length - a.length), 'longest first')
})

t.test('the gateway\'s credentials are taken out of the provider\'s text, as sent or URL-encoded', async (t) => {
  const password = 'pwd S3cret/+password'
  const quoting = Buffer.from(JSON.stringify({ error: { code: 1006, type: 'DataError', message: `Invalid data format: password=${password}, again ${encodeURIComponent(password)}` } }))
  const userClient = createSerwerSmsClient({ apiUrl: await providerAnswering(t, 400, quoting), auth: { kind: 'user', username: 'api-user', password }, timeoutMs: 5_000 })
  t.teardown(() => userClient.close())
  t.same(await userClient.sendSms(fields('+48500600700')), { outcome: 'provider_error', error: { code: 1006, type: 'DataError', message: 'Invalid data format: password=[credential], again [credential]' } })

  const items = Buffer.from(JSON.stringify({ success: true, queued: 0, unsent: 1, items: [{ phone: '+48500600700', status: 'unsent', error_code: 3103, error_message: `rejected for ${UPSTREAM_TOKEN}` }] }))
  const tokenClient = createSerwerSmsClient({ apiUrl: await providerAnswering(t, 200, items), auth: { kind: 'token', token: UPSTREAM_TOKEN }, timeoutMs: 5_000 })
  t.teardown(() => tokenClient.close())
  t.match(await tokenClient.sendSms(fields('+48500600700')), { outcome: 'ok', response: { items: [{ error_message: 'rejected for [credential]' }] } }, 'the token too, in a recipient\'s error')
})
