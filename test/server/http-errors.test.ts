import { request } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { answerClientError } from '../../src/plugins/problems.js'
import { openConnections, startGateway, TEST_API_KEY, type GatewayUnderTest } from '../helper.js'
import { waitFor } from '../servers.js'

interface RawAnswer { status: number, contentType: string | undefined, body: { code: string, status: number } }

/** Writes bytes to the gateway on a fresh connection and reads the answer up to its end. */
async function raw (gw: GatewayUnderTest, bytes: string): Promise<string> {
  const { port } = new URL(gw.url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
}

function parse (text: string): RawAnswer {
  const [head = '', body = ''] = text.split('\r\n\r\n')
  const status = Number(head.split(' ')[1])
  const contentType = /^content-type: (.*)$/im.exec(head)?.[1]
  return { status, contentType, body: JSON.parse(body) as RawAnswer['body'] }
}

t.test('what the HTTP parser refuses is answered as a problem', async (t) => {
  const gw = await startGateway(t)
  const garbage = parse(await raw(gw, 'NOT HTTP AT ALL\r\n\r\n'))
  t.match(garbage, { status: 400, contentType: 'application/problem+json; charset=utf-8', body: { code: 'GW_HTTP_MALFORMED', status: 400 } })
  const huge = parse(await raw(gw, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'k'.repeat(20_000)}\r\n\r\n`))
  t.match(huge, { status: 431, contentType: 'application/problem+json; charset=utf-8', body: { code: 'GW_HEADERS_TOO_LARGE', status: 431 } })
  t.match(gw.logs.entries.filter((e) => e.msg === 'connection refused before routing'), [
    { level: 30, statusCode: 400, code: 'GW_HTTP_MALFORMED', reason: /^HPE_/, remoteAddress: '127.0.0.1' },
    { level: 30, statusCode: 431, code: 'GW_HEADERS_TOO_LARGE', reason: 'HPE_HEADER_OVERFLOW' }
  ], 'each refusal logged: no route, no request line')
})

t.test('an HTTP/1.1 request without Host is refused as a problem naming the header; HTTP/1.0 needs none', async (t) => {
  const gw = await startGateway(t)
  const missing = parse(await raw(gw, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'))
  t.match(missing, { status: 400, contentType: 'application/problem+json; charset=utf-8', body: { code: 'GW_VALIDATION_FAILED', errors: [{ field: 'headers:/host', reason: 'is missing' }] } })
  t.ok(gw.logs.entries.some((e) => e.msg === 'request completed' && e.path === '/healthz' && e.statusCode === 400), 'logged as any request is')
  t.match(await raw(gw, 'GET /healthz HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /)
})

t.test('a body that stops arriving gets a 408 problem after the request timeout; an early answer is not followed by a second', async (t) => {
  const gw = await startGateway(t)
  const { port } = new URL(gw.url)
  /** Sends the head and part of the body, then nothing more: what comes back, once the gateway closes. */
  const stall = async (head: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`${head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nsmsid=`))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  // Both wait out the 30-s request timeout side by side.
  const started = Date.now()
  const [slowBody, earlyAnswer] = await Promise.all([stall('POST /dlr HTTP/1.1\r\nHost: x\r\n'), stall('POST /nowhere HTTP/1.1\r\nHost: x\r\n')])
  t.match(parse(slowBody), { status: 408, contentType: 'application/problem+json; charset=utf-8', body: { code: 'GW_REQUEST_TIMEOUT' } })
  // Not a speed goal but the documented limit: REQUEST_TIMEOUT_MS (30 s), where a limit Node never
  // applied to the body let it run to its own 60-s headers timeout. The margin is for a loaded machine.
  t.ok(Date.now() - started < 50_000, `refused at the request timeout (${Date.now() - started} ms), not at Node's own 60 s`)
  t.equal(earlyAnswer.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer')
  t.match(parse(earlyAnswer), { status: 404, body: { code: 'GW_NOT_FOUND' } })
})

t.test('bytes that are not HTTP behind a send still running on the connection: the send is answered, then the connection closes', async (t) => {
  const gw = await startGateway(t, { simulator: { latencyMs: 300 } })
  const body = JSON.stringify({ to: '+48500600700', text: 'pipelined' })
  const send = `POST /sms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  for (const [label, junk] of [['not HTTP', 'FOO\x01 / HTTP/1.1\r\n\r\n'], ['headers too large', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'k'.repeat(20_000)}\r\n\r\n`]] as const) {
    const sendsBefore = gw.simulator.stats.sendRequests
    const answers = await raw(gw, send + junk)
    t.equal(gw.simulator.stats.sendRequests, sendsBefore + 1, `${label}: sent once`)
    t.equal(answers.match(/HTTP\/1\.1 /g)?.length, 1, `${label}: one answer, the send's`)
    const answer = parse(answers)
    t.equal(answer.status, 200, `${label}: the send's own answer`)
    t.match(answer.body, { queued: 1 })
  }
  // Two sends pipelined before the junk: both are answered, in order.
  const sendsBefore = gw.simulator.stats.sendRequests
  const answers = await raw(gw, send + send + 'FOO\x01 / HTTP/1.1\r\n\r\n')
  t.equal(gw.simulator.stats.sendRequests, sendsBefore + 2)
  t.equal(answers.match(/HTTP\/1\.1 200 /g)?.length, 2, 'both sends answered')
  t.notMatch(answers, /GW_HTTP_MALFORMED/)
  await waitFor('the gateway to close its side too', async () => await openConnections(gw) === 0)

  // The bytes that are not HTTP are the body of a request behind the send: that one will never be
  // answered, so the connection is refused and closed at once, as before, and holds nothing open.
  const broken = 'POST /dlr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n5\r\nsmsid\r\nZZZ\r\n'
  const cut = await raw(gw, send + broken)
  t.match(cut, /GW_HTTP_MALFORMED/, 'refused as unreadable')
  await waitFor('no connection left open', async () => await openConnections(gw) === 0)
})

t.test('an Expect other than 100-continue gets a 417 problem; 100-continue is served', async (t) => {
  const gw = await startGateway(t)
  const refused = await raw(gw, 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n')
  t.match(parse(refused), { status: 417, contentType: 'application/problem+json; charset=utf-8', body: { code: 'GW_EXPECTATION_FAILED', status: 417, detail: /Expect: "200-ok" is not supported/ } })
  t.match(gw.logs.entries.filter((e) => e.msg === 'request refused before routing'), [{ level: 30, statusCode: 417, code: 'GW_EXPECTATION_FAILED', method: 'GET', path: '/healthz' }], 'logged: no route, no request line')

  const body = JSON.stringify({ to: '+48500600700', text: 'after continue' })
  const { port } = new URL(gw.url)
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`POST /sms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      if (text === '' && chunk.startsWith('HTTP/1.1 100 Continue')) socket.write(body)
      text += chunk
    })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  t.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, 'told to go on, then answered')
  t.equal(gw.simulator.received.length, 1)
})

t.test('a request that never finishes arriving gets a 408 problem', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  let text = ''
  client.setEncoding('utf8')
  client.on('data', (chunk: string) => { text += chunk })
  const closed = new Promise((resolve) => client.on('close', resolve))
  const socket = await accepted
  socket.on('error', () => {})
  answerClientError(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket)
  await closed
  t.match(parse(text), { status: 408, body: { code: 'GW_REQUEST_TIMEOUT', status: 408 } })
})

t.test('plugins\' own 4xx keep their meaning; unknown field names are escaped as pointer steps', async (t) => {
  const gw = await startGateway(t)
  const traversal = await new Promise<{ status: number, type: string | undefined, body: string }>((resolve, reject) => {
    const call = request(`${gw.url}/docs/static/../../package.json`, { method: 'GET' }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], body }))
    })
    call.on('error', reject)
    call.end()
  })
  t.equal(traversal.status, 404)
  t.match(JSON.parse(traversal.body), { code: 'GW_NOT_FOUND' })
  const { authHeader } = await import('../helper.js')
  const odd = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to: '+48500600700', text: 'x', 'to/0': 1, 'a~b': 2 }) })
  t.equal(odd.status, 400)
  const fields = ((await odd.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field).sort()
  t.same(fields, ['/a~0b', '/to~10'])
})

t.test('what a caller sends is quoted back and logged cut short: an unknown field\'s name, a path', async (t) => {
  const gw = await startGateway(t)
  const { authHeader } = await import('../helper.js')
  const key = `k${'x'.repeat(100_000)}`
  const unknown = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to: '+48500600700', text: 'x', [key]: 1 }) })
  const text = await unknown.text()
  t.equal(unknown.status, 400)
  t.ok(text.length < 2000, `the answer stays small (${text.length} bytes)`)
  t.match(JSON.parse(text), { errors: [{ field: `/k${'x'.repeat(63)}…`, reason: 'is not a known field' }] })

  const long = `/${'p'.repeat(10_000)}`
  const notFound = await fetch(`${gw.url}${long}`)
  const problem = await notFound.json() as { detail: string }
  t.equal(notFound.status, 404)
  t.equal(problem.detail, `No route for GET ${long.slice(0, 200)}….`)
  const line = gw.logs.entries.find((e) => e.msg === 'request completed' && e.statusCode === 404)
  t.equal(line?.path, `${long.slice(0, 200)}…`, 'the logged path too')

  // The router reads what follows a raw "#" as the query: signatures, not a path to log.
  t.match(await raw(gw, 'GET /dlr#sig=SECRETSIG&t=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 403 /)
  t.notMatch(JSON.stringify(gw.logs.entries), /SECRETSIG/)
  t.ok(gw.logs.entries.some((e) => e.msg === 'request completed' && e.path === '/dlr' && e.statusCode === 403))
})

t.test('every header is read, however many: one past Node\'s default count of 2,000 still counts', async (t) => {
  const gw = await startGateway(t)
  const filler = Array.from({ length: 2001 }, (_, i) => `x${i}: 1\r\n`).join('')
  const body = JSON.stringify({ to: '+48500600700', text: 'x' })
  const answer = parse(await raw(gw, `POST /sms HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${TEST_API_KEY}\r\n${filler}Authorization: Bearer other\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`))
  t.equal(answer.status, 401, 'a second Authorization after 2,001 headers is seen: several are refused')
  t.equal(gw.simulator.stats.sendRequests, 0, 'nothing sent')
})

t.test('a body in a transfer coding Node does not decode is refused with 415, as a content coding is, and not sent', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const body = JSON.stringify({ to: '+48500600700', text: 'x' })
  const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`
  const send = parse(await raw(gw, `POST /sms HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${chunk(body)}`))
  t.match(send, { status: 415, contentType: 'application/problem+json; charset=utf-8', body: { code: 'GW_MEDIA_TYPE_UNSUPPORTED' } })
  t.equal(gw.simulator.stats.sendRequests, 0, 'a plain body labelled gzip is not sent: a proxy in front would have read it otherwise')
  const form = parse(await raw(gw, `POST /dlr HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${chunk('smsid=a1&stan=delivered')}`))
  t.equal(form.status, 415, 'nor a report form')
})
