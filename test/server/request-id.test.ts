import t from 'tap'
import { authHeader, startGateway } from '../helper.js'
import { requestIdFor } from '../../src/server-options.js'
import type { IncomingMessage } from 'node:http'

const withHeader = (value?: string | string[]) => ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as unknown as IncomingMessage

t.test('a caller\'s X-Request-Id is taken when it looks like an id, else the gateway numbers the request', async (t) => {
  for (const id of ['3f2a9c4e-8b1d-4e6f-a2c7-9d0e1f2a3b4c', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'job.42:retry-1']) {
    t.equal(requestIdFor(withHeader(id)), id)
  }
  for (const junk of ['x'.repeat(129), 'req-2","client":"demo', 'a b', '', 'zażółć']) {
    t.match(requestIdFor(withHeader(junk)), /^req-[0-9a-z]+$/, JSON.stringify(junk.slice(0, 40)))
  }
  t.match(requestIdFor(withHeader(['a', 'b'])), /^req-/, 'a repeated header is no id')
  const [first, second] = [requestIdFor(withHeader()), requestIdFor(withHeader())]
  t.not(first, second, 'numbered afresh each time')
})

t.test('the request\'s log line carries the id it was given, or its own', async (t) => {
  const gw = await startGateway(t)
  const send = async (id: string) => fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id, ...authHeader() },
    body: JSON.stringify({ to: '+48500600700', text: 'x' })
  })
  t.equal((await send('trace-7f3a')).status, 200)
  t.equal((await send('x'.repeat(5000))).status, 200)
  const lines = gw.logs.entries.filter((e) => e.route === '/sms')
  t.equal(lines[0]?.reqId, 'trace-7f3a')
  t.match(lines[1]?.reqId, /^req-[0-9a-z]+$/, 'a 5,000-character header is not copied into the line')
})
