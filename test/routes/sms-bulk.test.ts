import { request, type IncomingMessage } from 'node:http'
import t, { type Test } from 'tap'
import { authHeader, startGateway, type GatewayUnderTest } from '../helper.js'
import { waitFor } from '../servers.js'
import { ITEMS_PER_PIECE } from '../../src/list-in-pieces.js'
import { RecipientResultSchema, SendSmsResultSchema } from '../../src/schemas/sms.js'

interface Message { phone: string, status: string, id?: string, uniqueId?: string, error?: { code: number | string, message: string } }
interface Answer { status: number, body: { queued: number, unsent: number, failed: number, unknown: number, code?: string, detail?: string, messages: Message[] } }

async function post (gw: GatewayUnderTest, body: unknown): Promise<Answer> {
  const response = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Answer['body'] }
}

const phone = (i: number) => `+4850${String(i).padStart(7, '0')}`
const sentPhones = (gw: GatewayUnderTest) => gw.simulator.received.flatMap((r) => r.body.phone as string[])

t.test('numbers are de-duplicated across the whole request before batching, in the caller\'s order', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '3', SMS_UPSTREAM_CONCURRENCY: '4' }, deliveryReportsToSelf: true })
  // 20 distinct numbers, each written twice, the second time nationally and further down.
  const to = [...Array.from({ length: 20 }, (_, i) => phone(i)), ...Array.from({ length: 20 }, (_, i) => phone(19 - i).slice(3))]
  const answer = await post(gw, { to, text: 'campaign' })
  t.equal(answer.status, 200)
  t.equal(answer.body.queued, 20)
  t.same(answer.body.messages.map((m) => m.phone), Array.from({ length: 20 }, (_, i) => phone(i)), 'order of first appearance')
  t.equal(gw.simulator.received.length, 7, 'ceil(20 / 3) upstream requests')
  t.ok(gw.simulator.received.every((r) => (r.body.phone as string[]).length <= 3))
  const sent = sentPhones(gw)
  t.equal(sent.length, 20)
  t.equal(new Set(sent).size, 20, 'no number sent twice, even across batches')
  const ids = answer.body.messages.map((m) => m.id)
  t.equal(new Set(ids).size, 20, 'every recipient has its own message id')
  // Every batch but its numbers and its dlr_url is the first batch; each carries a signed dlr_url
  // (one without would lose its reports), signed with the time it left: none before the first.
  const sentAt = (url: unknown) => Number.parseInt(new URLSearchParams(String(url).split('?')[1]).get('t') ?? '', 36)
  const [first, ...later] = gw.simulator.received.map((r) => ({ ...r.body, phone: undefined, dlr_url: undefined }))
  t.match(first, { text: 'campaign' })
  for (const batch of later) t.same(batch, first)
  const urls = gw.simulator.received.map((r) => r.body.dlr_url)
  for (const url of urls) t.match(url, /\/dlr\?t=[0-9a-z]+&e=[0-9a-z]+&sig=[\w-]{43}&/)
  t.ok(urls.every((url) => sentAt(url) >= sentAt(urls[0])), 'no batch signed before the first left')
})

t.test('uniqueId stays with its number through de-duplication and batching', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '4' } })
  const to: string[] = []
  const uniqueId: string[] = []
  for (let i = 0; i < 30; i++) {
    to.push(phone(i % 13))
    uniqueId.push(`uid${i}`)
  }
  const answer = await post(gw, { to, uniqueId, text: 'x' })
  t.equal(answer.status, 200)
  t.same(answer.body.messages.map((m) => m.uniqueId), uniqueId, 'every id is answered, in the caller\'s order')
  t.same(answer.body.messages.filter((m) => m.status === 'queued').map((m) => m.uniqueId), Array.from({ length: 13 }, (_, i) => `uid${i}`), 'the first occurrence is the one sent')
  answer.body.messages.slice(13).forEach((m, k) => t.match(m, { status: 'unsent', error: { code: 'GW_RECIPIENT_REPEATED', message: new RegExp(`uniqueId uid${(13 + k) % 13}\\b`) } }))
  t.match(answer.body, { queued: 13, unsent: 17 })
  for (const request of gw.simulator.received) {
    const phones = request.body.phone as string[]
    const ids = request.body.unique_id as string[]
    t.equal(ids.length, phones.length)
    phones.forEach((p, k) => t.equal(ids[k], `uid${Number(p.slice(5))}`, `${p} travels with its own id`))
  }
})

t.test('each batch outcome reaches exactly its recipients: 207 when only some batches were accepted', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '2', SMS_UPSTREAM_CONCURRENCY: '1', SERWERSMS_TIMEOUT_MS: '300' } })
  const to = Array.from({ length: 8 }, (_, i) => phone(i))
  const cases: Array<[Parameters<typeof gw.simulator.setFault>[0], string, number | string]> = [
    [{ fault: { kind: 'provider-error', code: 3100, message: 'Sending is blocked' }, afterRequests: 2, times: 1 }, 'failed', 3100],
    [{ fault: { kind: 'hang' }, afterRequests: 2, times: 1 }, 'unknown', 'GW_UPSTREAM_TIMEOUT'],
    [{ fault: { kind: 'reset' }, afterRequests: 2, times: 1 }, 'unknown', 'GW_UPSTREAM_UNREACHABLE'],
    [{ fault: { kind: 'garbage' }, afterRequests: 2, times: 1 }, 'unknown', 'GW_UPSTREAM_BAD_RESPONSE']
  ]
  for (const [rule, status, code] of cases) {
    gw.simulator.setFault(rule)
    const answer = await post(gw, { to, text: 'x' })
    t.equal(answer.status, 207, rule!.fault.kind)
    t.same(answer.body.messages.map((m) => m.status), ['queued', 'queued', 'queued', 'queued', status, status, 'queued', 'queued'], rule!.fault.kind)
    t.equal(answer.body.messages[4]!.error?.code, code)
    t.equal(answer.body.queued, 6)
    t.equal(answer.body[status as 'failed' | 'unknown'], 2)
  }
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /sms_gateway_messages_total\{status="queued",client="billing"\} 24/)
  t.match(metrics, /sms_gateway_messages_total\{status="failed",client="billing"\} 2/)
  t.match(metrics, /sms_gateway_messages_total\{status="unknown",client="billing"\} 6/)
  t.match(metrics, /sms_gateway_upstream_batches_per_call_count 4/)
  t.match(metrics, /sms_gateway_upstream_batches_per_call_sum 16/)
})

t.test('when no batch is accepted the problem still lists every recipient\'s fate', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '2' } })
  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3001, message: 'No FULL messages left' } })
  const answer = await post(gw, { to: [phone(1), phone(2), phone(3), 'nope'], text: 'x' })
  t.equal(answer.status, 422)
  t.equal(answer.body.code, 'GW_PROVIDER_REFUSED')
  t.match(answer.body, { failed: 3, unsent: 1, queued: 0, unknown: 0 })
  t.same(answer.body.messages.map((m) => m.status), ['failed', 'failed', 'failed', 'unsent'])
})

t.test('a request above SMS_MAX_RECIPIENTS is refused whole and nothing is sent', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '5' } })
  const answer = await post(gw, { to: Array.from({ length: 6 }, (_, i) => phone(i)), text: 'x' })
  t.equal(answer.status, 413)
  t.equal(answer.body.code, 'GW_RECIPIENTS_TOO_MANY')
  t.match(answer.body, { limit: 5 })
  const huge = await post(gw, { to: Array.from({ length: 10_000 }, (_, i) => phone(i)), text: 'x' })
  t.equal(huge.status, 413, 'a body beyond what the limit needs is cut off before parsing')
  t.equal(huge.body.code, 'GW_BODY_TOO_LARGE')
  // 64 KiB, and 98 bytes for each of SMS_MAX_RECIPIENTS: a 32-character number and a 50-character uniqueId, each on a line of its own.
  t.equal(huge.body.detail, `The body exceeds this route's limit of ${65_536 + 98 * 5} bytes; split the recipients over several requests.`)
  t.equal(gw.simulator.received.length, 0)
})

t.test('the largest list SMS_MAX_RECIPIENTS allows is taken whole: the longest numbers, each with the longest uniqueId, indented', async (t) => {
  const gw = await startGateway(t)
  const count = gw.config.sending.maxRecipients
  // Distinct valid numbers, each written in 32 characters, the longest a number may be.
  const longNumber = (i: number) => {
    const digits = String(500_000_000 + i)
    const written = `(+48) ${digits.slice(0, 3)} - ${digits.slice(3, 6)} - ${digits.slice(6)}`
    return written.replace('(+48) ', `(+48)${' '.repeat(32 - written.length + 1)}`)
  }
  const to = Array.from({ length: count }, (_, i) => longNumber(i))
  const uniqueId = Array.from({ length: count }, (_, i) => `${'u'.repeat(50 - String(i).length)}${i}`)
  t.ok(to.every((number) => number.length === 32) && uniqueId.every((id) => id.length === 50))
  const body = JSON.stringify({ to, uniqueId, text: 'x' }, null, 2)
  t.ok(body.length > 65_536 + 80 * count, `${body.length} bytes: more than the limit was before`)
  const response = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body })
  const answer = await response.json() as Answer['body']
  t.equal(response.status, 200)
  t.equal(answer.queued, count, 'every recipient sent')
  t.same(answer.messages.map((m) => m.uniqueId), uniqueId)
})

t.test('thousands of recipients go out in provider-sized batches', async (t) => {
  const gw = await startGateway(t, { simulator: { recordRequests: 100 } })
  const to = Array.from({ length: 5000 }, (_, i) => phone(i))
  const answer = await post(gw, { to, text: 'x' })
  t.equal(answer.status, 200)
  t.equal(answer.body.queued, 5000)
  t.equal(gw.simulator.stats.sendRequests, 50)
  t.equal(gw.simulator.stats.messagesQueued, 5000)
  t.same(answer.body.messages.map((m) => m.phone), to)
})

t.test('a long answer, made a piece at a time, is the JSON its schema gives: results and problems alike', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '100', SMS_UPSTREAM_CONCURRENCY: '4' }, simulator: { recordRequests: 1 } })
  const count = 2 * ITEMS_PER_PIECE + 1
  // Invalid numbers and repeats among them (errors of the gateway's own), and ids for every one.
  const to = Array.from({ length: count }, (_, i) => i % 250 === 1 ? 'nope' : i % 250 === 2 ? phone(0) : phone(i))
  const uniqueId = to.map((_, i) => `uid${i}`)
  const raw = async (body: unknown) => {
    const response = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify(body) })
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() }
  }
  const schemaOrder = (keys: string[], order: string[]) => order.filter((key) => keys.includes(key))
  const messageOrder = Object.keys(RecipientResultSchema.properties)
  const checkJson = (answer: { text: string }, what: string) => {
    const parsed = JSON.parse(answer.text) as Answer['body']
    t.equal(JSON.stringify(parsed), answer.text, `${what}: one JSON document, written compactly`)
    t.equal(parsed.messages.length, count, `${what}: every recipient`)
    for (const message of parsed.messages) {
      if (JSON.stringify(Object.keys(message)) !== JSON.stringify(schemaOrder(Object.keys(message), messageOrder))) t.fail(`${what}: ${JSON.stringify(message)} not in the schema's order`)
    }
    t.same(parsed.messages.map((m) => m.uniqueId), uniqueId, `${what}: in the caller's order`)
    return parsed
  }

  const accepted = await raw({ to, text: 'x', uniqueId })
  t.equal(accepted.status, 200)
  t.equal(accepted.type, 'application/json; charset=utf-8')
  const result = checkJson(accepted, '200')
  t.same(Object.keys(result), schemaOrder(Object.keys(result), Object.keys(SendSmsResultSchema.properties)), 'the counts first, in the schema\'s order')
  t.same(Object.keys(result), ['queued', 'unsent', 'failed', 'unknown', 'parts', 'messages'], 'no more (`test` only for a test send)')
  t.match(result, { queued: count - 16, unsent: 16, failed: 0, unknown: 0 })
  t.match(result.messages[1], { phone: 'nope', status: 'unsent', error: { code: 'GW_PHONE_INVALID' } })
  t.match(result.messages[2], { status: 'unsent', error: { code: 'GW_RECIPIENT_REPEATED' } })

  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3100, message: 'Sending is blocked' }, afterRequests: 3, times: 1 })
  const partial = await raw({ to, text: 'y', uniqueId })
  t.equal(partial.status, 207)
  t.match(checkJson(partial, '207'), { failed: 100 })

  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3001, message: 'No FULL messages left' } })
  const refused = await raw({ to, text: 'z', uniqueId })
  t.equal(refused.status, 422)
  t.equal(refused.type, 'application/problem+json; charset=utf-8')
  const problem = checkJson(refused, '422') as Answer['body'] & Record<string, unknown>
  t.same(Object.keys(problem).slice(0, 5), ['type', 'title', 'status', 'detail', 'code'], 'a problem\'s own fields first')
  t.match(problem, { status: 422, code: 'GW_PROVIDER_REFUSED', providerError: { code: 3001 }, queued: 0, failed: count - 16, unsent: 16 })
})

t.test('a gateway shutting down mid-call sends no further batches and answers for every recipient', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '2', SMS_UPSTREAM_CONCURRENCY: '1' }, simulator: { latencyMs: 1000 } })
  const to = Array.from({ length: 10 }, (_, i) => phone(i))
  const pending = post(gw, { to, text: 'closing' })
  // The close starts while the second batch is at the provider (each takes 1 s there).
  await waitFor('the second batch to reach the provider', () => gw.simulator.received.length === 2)
  const closed = gw.app.close()
  const answer = await pending
  await closed
  const sentBatches = gw.simulator.received.length
  t.equal(sentBatches, 2, 'the batch in flight finished, no new one started')
  t.equal(answer.status, 207)
  t.equal(answer.body.queued, 2 * sentBatches)
  t.equal(answer.body.failed, 10 - 2 * sentBatches)
  t.same(answer.body.messages.map((m) => m.phone), to, 'every recipient answered for, in order')
  for (const message of answer.body.messages.filter((m) => m.status === 'failed')) {
    t.same(message.error, { code: 'GW_SHUTTING_DOWN', message: 'The gateway shut down before this recipient was sent.' })
  }
  t.same(sentPhones(gw), to.slice(0, 2 * sentBatches), 'the failed ones were never sent')
})

/**
 * A call whose answer is large (60,000 refusals, ~8 MB: more than a connection's buffers take in)
 * and comes at once (invalid numbers need no provider), its answer's head read, its body not yet.
 */
async function callWithLargeAnswer (t: Test) {
  const count = 60_000
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: String(count) } })
  const body = JSON.stringify({ to: Array.from({ length: count }, (_, i) => `1${i}`), text: 'x' })
  const { port } = new URL(gw.url)
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const call = request({ host: '127.0.0.1', port, path: '/sms', method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() } }, resolve)
    call.on('error', reject)
    call.end(body)
  })
  return { gw, count, response }
}

t.test('an answer still being written when the gateway starts closing reaches its caller whole', async (t) => {
  const { gw, count, response } = await callWithLargeAnswer(t)
  // A caller reading slowly: the answer waits in the gateway's buffers while the close starts.
  response.pause()
  const closed = gw.app.close()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const chunks: Buffer[] = []
  response.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  const complete = await new Promise<boolean>((resolve) => {
    response.on('end', () => { resolve(response.complete) })
    response.on('error', () => { resolve(false) })
    response.resume()
  })
  await closed
  t.equal(response.statusCode, 200)
  t.ok(complete, 'the answer arrived to its end')
  const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body']
  t.equal(answer.messages.length, count, 'every recipient answered for')
})

t.test('a caller that hangs up part-way through a large answer is logged as such, once', async (t) => {
  const { gw, count, response } = await callWithLargeAnswer(t)
  // A caller that reads nothing more, then goes.
  response.pause()
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.notOk(gw.logs.entries.some((entry) => entry.route === '/sms'), 'not logged while its answer is still on its way')
  response.destroy()
  await waitFor('its log line', () => gw.logs.entries.some((entry) => entry.route === '/sms'))
  await new Promise((resolve) => setTimeout(resolve, 200))
  const lines = gw.logs.entries.filter((entry) => entry.route === '/sms')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], { level: 40, statusCode: 200, unsent: count, callerLeft: true, msg: 'request completed, but the caller hung up before the whole answer reached it' })
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /sms_gateway_http_request_duration_seconds_count\{method="POST",route="\/sms",status_code="200"\} 1\n/, 'timed, once')
})
