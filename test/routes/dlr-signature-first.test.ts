import type { AddressInfo } from 'node:net'
import { connect, type Socket } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { MAX_REPORT_FIELDS } from '../../src/dlr/report-encoding.js'
import { signDeliveryUrl } from '../../src/dlr/signing.js'
import { REPORT_BODY_LIMIT } from '../../src/routes/dlr/index.js'
import { serverOptions } from '../../src/server-options.js'
import { DLR_SECRET, startGateway, testConfig, type GatewayUnderTest } from '../helper.js'

/**
 * GET/POST /dlr check the signature a report's URL carries before its body is read, and one its
 * form carries before the rest of the form is decoded: anyone may post to the public route, and a
 * 16 KiB form of Latin-2 escapes cost 30 times the CPU of a refusal to decode.
 */

const FORM = 'application/x-www-form-urlencoded'
/** What the reviewer posted: a Latin-2 form of escapes, as large as the route takes. */
const LATIN2_FLOOD = `stan=${'%EA'.repeat(Math.floor((REPORT_BODY_LIMIT - 100) / 3))}`

async function scrape (url: string): Promise<string> {
  return await (await fetch(`${url}/metrics`)).text()
}

function sample (metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

const rejected = (metrics: string, reason: string) => sample(metrics, `sms_gateway_delivery_reports_rejected_total{reason="${reason}"}`)

/** The signature's part of a URL the gateway signed: `t=…&e=…&sig=…`. */
function signedQuery (base: string, times: { sentAt?: number, expiresAt?: number } = { sentAt: Date.now() - 1000, expiresAt: Date.now() + 60_000 }): string {
  const url = signDeliveryUrl(base, DLR_SECRET, times)
  return url.slice(url.indexOf('?') + 1, url.indexOf('&smsid='))
}

interface Refusal { name: string, query: string, status: number, code: string, reason: string }

function refusals (base: string): Refusal[] {
  const genuine = signedQuery(base)
  return [
    { name: 'a repeated signature', query: `${genuine}&sig=again`, status: 401, code: 'GW_DLR_SIGNATURE_MISSING', reason: 'unsigned' },
    { name: 'a signature not of the gateway\'s shape', query: 'sig=x', status: 403, code: 'GW_DLR_SIGNATURE_INVALID', reason: 'unsigned' },
    { name: 'a forged signature', query: genuine.replace(/sig=[\w-]+/, `sig=${'A'.repeat(43)}`), status: 403, code: 'GW_DLR_SIGNATURE_INVALID', reason: 'bad_signature' },
    { name: 'an expired URL', query: signedQuery(base, { sentAt: Date.now() - 120_000, expiresAt: Date.now() - 60_000 }), status: 403, code: 'GW_DLR_EXPIRED', reason: 'expired' }
  ]
}

t.test('a POST whose URL is unsigned, forged or expired is refused for that before its body is read: the problem, log line and count a GET gets', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const cases = refusals(gw.url)
  for (const { name, query, status, code } of cases) {
    const byGet = await fetch(`${gw.url}/dlr?${query}&smsid=s1&stan=delivered`)
    const getProblem = await byGet.json() as Record<string, unknown>
    t.equal(byGet.status, status, `GET, ${name}`)
    t.equal(getProblem.code, code)
    // A body that would be refused for itself, were it read: in a charset the gateway cannot decode.
    const byPost = await fetch(`${gw.url}/dlr?${query}&smsid=s1&stan=delivered`, { method: 'POST', headers: { 'content-type': `${FORM}; charset=windows-1250` }, body: LATIN2_FLOOD })
    t.equal(byPost.status, status, `POST, ${name}: not the 415 its body would get`)
    t.equal(byPost.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    t.same(await byPost.json(), getProblem, 'the same problem document')
  }
  // The reviewer's request: no URL signature at all, a form of Latin-2 escapes and no signature in it either.
  const anonymous = await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': `${FORM}; charset=iso-8859-2` }, body: LATIN2_FLOOD })
  t.equal(anonymous.status, 401)
  t.match(await anonymous.json(), { code: 'GW_DLR_SIGNATURE_MISSING', detail: 'The delivery-report URL carries no valid signature.' })
  const lines = gw.logs.entries.filter((e) => e.route === '/dlr' && e.msg === 'request completed')
  for (const { code } of cases) {
    const pair = lines.filter((e) => e.code === code && e.detail !== undefined)
    t.ok(pair.some((e) => e.method === 'GET') && pair.some((e) => e.method === 'POST'), `${code}: logged alike for GET and POST`)
    const [get, post] = [pair.find((e) => e.method === 'GET'), pair.find((e) => e.method === 'POST')]
    t.equal(post?.detail, get?.detail)
    t.equal(post?.client, 'anonymous')
  }
  const metrics = await scrape(gw.url)
  t.equal(rejected(metrics, 'unsigned'), 2 * 2 + 1, 'each refusal counted by its signature, GET and POST alike')
  t.equal(rejected(metrics, 'bad_signature'), 2)
  t.equal(rejected(metrics, 'expired'), 2)
  t.equal(rejected(metrics, 'malformed'), 0, 'no body was found unreadable: none was read')

  // Signed reports are read as they were: in the URL, a form in either charset, or signed in the form itself.
  const signed = signedQuery(gw.url)
  const latin2 = `${FORM}; charset=iso-8859-2`
  const accepted = [
    await fetch(`${gw.url}/dlr?${signed}&smsid=ok1&stan=dor%EAczona`),
    await fetch(`${gw.url}/dlr?${signed}`, { method: 'POST', headers: { 'content-type': FORM }, body: 'smsid=ok2&stan=dor%C4%99czona' }),
    await fetch(`${gw.url}/dlr?${signed}`, { method: 'POST', headers: { 'content-type': latin2 }, body: Buffer.from('smsid=ok3&stan=dor\xeaczona&przyczyna=b%B3%B1d', 'latin1') }),
    await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': FORM }, body: `${signed}&smsid=ok4&stan=delivered` }),
    await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': latin2 }, body: `smsid=ok5&stan=dor%EAczona&${signed}` }),
    await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...Object.fromEntries(new URLSearchParams(signed)), smsid: 'ok6', stan: 'delivered' }) })
  ]
  for (const [index, answer] of accepted.entries()) t.equal(await answer.text(), 'OK', `signed report ${index + 1}`)
  const logged = gw.logs.entries.filter((e) => typeof e.messageId === 'string' && String(e.messageId).startsWith('ok'))
  t.same(logged.map((e) => [e.messageId, e.status]), [['ok1', 'delivered'], ['ok2', 'delivered'], ['ok3', 'delivered'], ['ok4', 'delivered'], ['ok5', 'delivered'], ['ok6', 'delivered']])
})

t.test('a report\'s form is never decoded before its signature is found authentic', async (t) => {
  // The route, with parseReportForm counted.
  const actual = await import('../../src/dlr/report-encoding.js')
  let parsed = 0
  const counted = { ...actual, parseReportForm: (...args: Parameters<typeof actual.parseReportForm>) => { parsed++; return actual.parseReportForm(...args) } }
  const route = await t.mockImport('../../src/routes/dlr/index.js', { '../../src/dlr/report-encoding.js': counted })
  const { default: countingApp } = await t.mockImport<typeof import('../../src/app.js')>('../../src/app.js', { '../../src/routes/dlr/index.js': route })
  const config = testConfig({ SERWERSMS_API_URL: 'http://127.0.0.1:9', PUBLIC_URL: 'http://127.0.0.1:1', DLR_SECRET })
  const server = Fastify(serverOptions(config, { logger: false }))
  t.teardown(() => server.close())
  await server.register(countingApp, { config })
  await server.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`
  const post = async (path: string, body: string, charset = 'iso-8859-2') => await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': `${FORM}; charset=${charset}` }, body })

  const signed = signedQuery(url)
  const forged = signed.replace(/sig=[\w-]+/, `sig=${'A'.repeat(43)}`)
  const refused = [
    ['no signature anywhere', await post('/dlr', LATIN2_FLOOD), 401],
    ['a forged one in the URL', await post(`/dlr?${forged}`, LATIN2_FLOOD), 403],
    ['a forged one in the form', await post('/dlr', `${forged}&${LATIN2_FLOOD}`), 403],
    ['an expired one in the form', await post('/dlr', `${signedQuery(url, { expiresAt: Date.now() - 1 })}&${LATIN2_FLOOD}`, 'utf-8'), 403],
    ['an authentic one, and more fields than a report has', await post('/dlr', `${signed}&smsid=n1&stan=delivered&${'x=%EA&'.repeat(MAX_REPORT_FIELDS)}`), 400]
  ] as const
  for (const [name, answer, status] of refused) t.equal(answer.status, status, name)
  t.equal(parsed, 0, 'no refused form was decoded')
  t.equal(await (await post(`/dlr?${signed}`, 'smsid=n2&stan=dor%EAczona')).text(), 'OK')
  t.equal(await (await post('/dlr', `${signed}&smsid=n3&stan=dor%EAczona`)).text(), 'OK')
  t.equal(parsed, 2, 'an authentic report\'s form is decoded once')
})

/** Reads one HTTP/1.1 answer with a Content-Length from the socket, leaving what follows it. */
class Answers {
  #buffer = ''
  readonly #waiting: Array<() => void> = []

  constructor (socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      for (const wake of this.#waiting.splice(0)) wake()
    })
  }

  async next (timeoutMs: number): Promise<{ head: string, body: string } | undefined> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n')
      if (end !== -1) {
        const head = this.#buffer.slice(0, end)
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (this.#buffer.length >= end + 4 + length) {
          const body = this.#buffer.slice(end + 4, end + 4 + length)
          this.#buffer = this.#buffer.slice(end + 4 + length)
          return { head, body }
        }
      }
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiting.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }
}

t.test('a POST refused for its URL is answered before its body has come, and its connection carries the next report, as does one refused for its form\'s signature', async (t) => {
  const gw: GatewayUnderTest = await startGateway(t, { deliveryReportsToSelf: true })
  const { port } = new URL(gw.url)
  const forged = signedQuery(gw.url).replace(/sig=[\w-]+/, `sig=${'A'.repeat(43)}`)
  const socket = connect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  const answers = new Answers(socket)
  const body = Buffer.from(LATIN2_FLOOD, 'latin1')
  const sent = 1000
  socket.write(`POST /dlr?${forged} HTTP/1.1\r\nHost: gateway\r\nContent-Type: ${FORM}; charset=iso-8859-2\r\nContent-Length: ${body.length}\r\n\r\n`)
  socket.write(body.subarray(0, sent))
  const early = await answers.next(3000)
  t.ok(early !== undefined, `answered with ${body.length - sent} bytes of the body still to come`)
  t.match(early?.head, /^HTTP\/1\.1 403 /)
  t.notMatch(early?.head, /connection: close/i, 'the connection is kept')
  t.match(JSON.parse(early?.body ?? '{}'), { code: 'GW_DLR_SIGNATURE_INVALID' })
  // The rest of the body, then a genuine report on the same connection.
  socket.write(body.subarray(sent))
  socket.write(`GET /dlr?${signedQuery(gw.url)}&smsid=k1&stan=delivered HTTP/1.1\r\nHost: gateway\r\n\r\n`)
  const next = await answers.next(5000)
  t.match(next?.head, /^HTTP\/1\.1 200 /, 'the body set aside, the next request on the connection is read')
  t.equal(next?.body, 'OK')
  // A form whose own signature is refused (none in it) keeps its connection too: it was read whole.
  socket.write(`POST /dlr HTTP/1.1\r\nHost: gateway\r\nContent-Type: ${FORM}; charset=iso-8859-2\r\nContent-Length: ${body.length}\r\n\r\n`)
  socket.write(body)
  const unsigned = await answers.next(5000)
  t.match(unsigned?.head, /^HTTP\/1\.1 401 /)
  t.notMatch(unsigned?.head, /connection: close/i)
  socket.write(`GET /dlr?${signedQuery(gw.url)}&smsid=k2&stan=delivered HTTP/1.1\r\nHost: gateway\r\n\r\n`)
  t.match((await answers.next(5000))?.head, /^HTTP\/1\.1 200 /)
  const metrics = await scrape(gw.url)
  t.equal(rejected(metrics, 'bad_signature'), 1, 'each refused one counted once')
  t.equal(rejected(metrics, 'unsigned'), 1)
})

t.test('a query or form of more fields than a report has is refused as malformed at a signed URL, and for its signature at any other', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = signedQuery(gw.url)
  /** `n` fields in all, the signature's three and a report's two among them. */
  const fields = (n: number, id: string) => [signed, `smsid=${id}`, 'stan=delivered', ...Array.from({ length: n - 5 }, (_, i) => `x${i}=1`)].join('&')
  t.equal(await (await fetch(`${gw.url}/dlr?${fields(MAX_REPORT_FIELDS, 'm1')}`)).text(), 'OK', `a query of ${MAX_REPORT_FIELDS} fields is read`)
  t.equal(await (await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': FORM }, body: fields(MAX_REPORT_FIELDS, 'm2') })).text(), 'OK', `a form of ${MAX_REPORT_FIELDS}`)

  const query = await fetch(`${gw.url}/dlr?${fields(MAX_REPORT_FIELDS + 1, 'm3')}`)
  t.equal(query.status, 400)
  t.same(await query.json(), {
    type: 'urn:sms-gateway:problem:validation-failed',
    title: 'The request is invalid',
    status: 400,
    detail: `The query string has more than ${MAX_REPORT_FIELDS} fields, more than any delivery report has.`,
    code: 'GW_VALIDATION_FAILED',
    errors: [{ field: 'querystring:', reason: `has more than ${MAX_REPORT_FIELDS} fields` }]
  })
  const byPost = await fetch(`${gw.url}/dlr?${fields(MAX_REPORT_FIELDS + 1, 'm4')}`, { method: 'POST', headers: { 'content-type': FORM }, body: 'smsid=m4' })
  t.equal(byPost.status, 400, 'a POST to such a URL')
  const form = await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': FORM }, body: fields(MAX_REPORT_FIELDS + 1, 'm5') })
  t.equal(form.status, 400)
  t.match(await form.json(), { code: 'GW_VALIDATION_FAILED', detail: `The form has more than ${MAX_REPORT_FIELDS} fields, more than any delivery report has.`, errors: [{ field: '' }] })
  const toSignedUrl = await fetch(`${gw.url}/dlr?${signed}`, { method: 'POST', headers: { 'content-type': FORM }, body: `smsid=m6&stan=delivered&${'x=1&'.repeat(MAX_REPORT_FIELDS)}` })
  t.equal(toSignedUrl.status, 400, 'a form posted to a signed URL')
  const formWithSignedQuery = await fetch(`${gw.url}/dlr?${Array.from({ length: MAX_REPORT_FIELDS + 1 }, (_, i) => `q${i}=1`).join('&')}`, { method: 'POST', headers: { 'content-type': FORM }, body: `${signed}&smsid=m7&stan=delivered` })
  t.equal(formWithSignedQuery.status, 400, 'a signed form posted to a URL of too many fields')
  let metrics = await scrape(gw.url)
  t.equal(rejected(metrics, 'malformed'), 5, 'each behind an authentic signature: the provider\'s payload gone wrong')
  t.equal(rejected(metrics, 'unsigned'), 0)

  // Without an authentic signature, the signature is what is refused: anyone may send these.
  const unsignedQuery = await fetch(`${gw.url}/dlr?${Array.from({ length: 2600 }, (_, i) => `${i.toString(36)}=`).join('&')}`)
  t.equal(unsignedQuery.status, 401)
  const forgedQuery = await fetch(`${gw.url}/dlr?${fields(MAX_REPORT_FIELDS + 1, 'm8').replace(/sig=[\w-]+/, `sig=${'A'.repeat(43)}`)}`)
  t.equal(forgedQuery.status, 403)
  const unsignedForm = await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': FORM }, body: `smsid=m9&stan=delivered&${'x=1&'.repeat(MAX_REPORT_FIELDS)}` })
  t.equal(unsignedForm.status, 401)
  metrics = await scrape(gw.url)
  t.equal(rejected(metrics, 'malformed'), 5, 'no more malformed')
  t.equal(rejected(metrics, 'unsigned'), 2)
  t.equal(rejected(metrics, 'bad_signature'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 2, 'only the two reports of 32 fields')
})
