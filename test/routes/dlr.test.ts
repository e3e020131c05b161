import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import Fastify from 'fastify'
import t from 'tap'
import { signDeliveryUrl } from '../../src/dlr/signing.js'
import type { ReportDeduplicatorOptions } from '../../src/dlr/report-dedup.js'
import { REPORT_BODY_LIMIT } from '../../src/routes/dlr/index.js'
import { serverOptions } from '../../src/server-options.js'
import { authHeader, DLR_SECRET, startGateway, testConfig, type GatewayUnderTest } from '../helper.js'

async function sendSms (gw: GatewayUnderTest, to: string[]) {
  const response = await fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeader() },
    body: JSON.stringify({ to, text: 'report me' })
  })
  return await response.json() as { messages: Array<{ id: string, status: string }> }
}

async function scrape (gw: GatewayUnderTest): Promise<string> {
  return await (await fetch(`${gw.url}/metrics`)).text()
}

/** The value of one sample line, 0 when the series does not exist yet. */
function sample (metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

/** A signed URL for this gateway, filled in as the provider would. */
function reportUrl (gw: GatewayUnderTest, fields: Record<string, string>, signed: { sentAt?: number, expiresAt?: number } = { sentAt: Date.now() - 5000, expiresAt: Date.now() + 60_000 }): string {
  let url = signDeliveryUrl(gw.url, DLR_SECRET, signed)
  url = url.replace('#SMSID#', encodeURIComponent(fields.smsid ?? '')).replace('#STAN#', encodeURIComponent(fields.stan ?? ''))
    .replace('#DATA#', encodeURIComponent(fields.data ?? '2026-11-25 12:00:00')).replace('#PRZYCZYNA#', encodeURIComponent(fields.przyczyna ?? ''))
  return url
}

t.test('the whole loop: send, the provider pushes reports to the signed URL, metrics show exactly those', async (t) => {
  const gw = await startGateway(t, {
    deliveryReportsToSelf: true,
    simulator: { deliveryReports: { delayMs: 50, mix: { delivered: 1 } } }
  })
  const numbers = Array.from({ length: 6 }, (_, i) => `+4850060070${i}`)
  const answer = await sendSms(gw, numbers)
  t.equal(answer.messages.filter((m) => m.status === 'queued').length, 6)
  await gw.simulator.flushDeliveryReports()
  t.equal(gw.simulator.stats.deliveryReportsSent, 6)
  t.equal(gw.simulator.stats.deliveryReportsFailed, 0, 'every push was answered 200 OK')

  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 6)
  t.equal(sample(metrics, 'sms_gateway_delivery_seconds_count{status="delivered"}'), 6)
  t.ok(sample(metrics, 'sms_gateway_delivery_seconds_sum{status="delivered"}') > 0, 'latency measured from the signed send time')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="bad_signature"}'), 0)

  const logged = gw.logs.entries.filter((e) => e.route === '/dlr' && e.messageId !== undefined)
  t.equal(logged.length, 6)
  t.same(new Set(logged.map((e) => e.messageId)), new Set(answer.messages.map((m) => m.id)), 'each report logged with its message id')
  t.ok(logged.every((e) => e.status === 'delivered' && e.reason === 'none' && typeof e.latencySeconds === 'number'))
  t.ok(logged.every((e) => e.path === '/dlr' && e.method === 'GET' && e.statusCode === 200 && e.client === 'anonymous'), 'the path without its query string (signature, t, e), beside the request\'s own facts')
  t.notOk(gw.logs.lines.some((line) => line.includes('sig=')), 'no signed query string in any line')
})

t.test('a provider that repeats its pushes is counted once per message and state', async (t) => {
  const gw = await startGateway(t, {
    deliveryReportsToSelf: true,
    simulator: { deliveryReports: { delayMs: 20, mix: { undelivered: 1 }, duplicate: true, method: 'POST' } }
  })
  await sendSms(gw, ['+48500600700', '+48500600701', '+48500600702'])
  await gw.simulator.flushDeliveryReports()
  t.equal(gw.simulator.stats.deliveryReportsSent, 6, 'each report pushed twice, all answered OK')
  const metrics = await scrape(gw)
  const undelivered = metrics.split('\n').filter((l) => l.startsWith('sms_gateway_delivery_reports_total{status="undelivered"'))
  t.equal(undelivered.reduce((sum, line) => sum + Number(line.split(' ')[1]), 0), 3)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="undelivered",reason="none"}'), 0, 'undelivered reports carry a reason')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_duplicate_total'), 3)
})

t.test('fields under every known name, by GET, form POST and JSON POST; unknown ids and repeats get OK', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const base = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const signature = `&${base.slice(base.indexOf('?') + 1, base.indexOf('&smsid='))}`
  const get = await fetch(`${gw.url}/dlr?id=never-sent&status=dor%C4%99czona&date=2026-11-25%2012%3A00%3A00${signature}`)
  t.equal(get.status, 200)
  t.equal(await get.text(), 'OK')
  const form = await fetch(`${gw.url}/dlr?${signature.slice(1)}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'smsid=abc123&stan=undelivered&przyczyna=wrong_number' })
  t.equal(await form.text(), 'OK')
  const json = await fetch(`${gw.url}/dlr?${signature.slice(1)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ smsid: 'abc124', status: 'sent' }) })
  t.equal(await json.text(), 'OK')
  const repeat = await fetch(`${gw.url}/dlr?${signature.slice(1)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ smsid: 'abc124', status: 'sent' }) })
  t.equal(repeat.status, 200)
  t.equal(await repeat.text(), 'OK')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 1, 'Polish word mapped')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="undelivered",reason="wrong_number"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="sent",reason="none"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_duplicate_total'), 1)
  const first = gw.logs.entries.find((e) => e.route === '/dlr' && e.messageId === 'never-sent')
  t.equal(first?.reportedAt, '2026-11-25 12:00:00', 'the provider\'s time of the state change is logged')
})

t.test('forged, tampered, expired and unsigned reports are refused, counted, and never counted as deliveries', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const genuine = reportUrl(gw, { smsid: 'm1', stan: 'delivered' })
  const cases: Array<[string, number, string]> = [
    [`${gw.url}/dlr?smsid=m1&stan=delivered`, 401, 'unsigned'],
    [genuine.replace(/sig=[\w-]+/, 'sig=' + 'A'.repeat(43)), 403, 'bad_signature'],
    [genuine.replace(/([?&])t=([0-9a-z]+)/, (_m, before: string, t: string) => `${before}t=${(parseInt(t, 36) - 1000).toString(36)}`), 403, 'bad_signature'],
    [genuine.replace(/([?&])e=([0-9a-z]+)/, (_m, before: string, e: string) => `${before}e=${(parseInt(e, 36) + 86_400_000).toString(36)}`), 403, 'bad_signature'],
    [signDeliveryUrl(gw.url, 'another-secret-0123456789abcdef0123', {}).replace('#SMSID#', 'm1').replace('#STAN#', 'delivered').replace('#DATA#', '').replace('#PRZYCZYNA#', ''), 403, 'bad_signature'],
    [reportUrl(gw, { smsid: 'm1', stan: 'delivered' }, { sentAt: Date.now() - 120_000, expiresAt: Date.now() - 60_000 }), 403, 'expired'],
    [`${genuine}&sig=second`, 401, 'unsigned']
  ]
  for (const [url, status, reason] of cases) {
    const answer = await fetch(url)
    t.equal(answer.status, status, reason)
    t.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    t.not(await answer.text(), 'OK')
  }
  const noId = await fetch(reportUrl(gw, { stan: 'delivered' }))
  t.equal(noId.status, 400, 'an authentic report without a message id is malformed')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="unsigned"}'), 2)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 1, 'only the authentic report')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="bad_signature"}'), 4)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="expired"}'), 1)
  t.notMatch(metrics, /sms_gateway_delivery_reports_total\{[^}]*\} [1-9]/, 'no delivery counted')
})

t.test('a report field repeated at a signed URL is a malformed report; a repeated signature is no signature', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const url = reportUrl(gw, { smsid: 'r1', stan: 'delivered' })
  const repeatedField = await fetch(`${url}&stan=undelivered`)
  t.equal(repeatedField.status, 400)
  t.match(await repeatedField.json(), { code: 'GW_VALIDATION_FAILED', errors: [{ field: 'querystring:/stan' }] })
  const sig = new URL(url).searchParams.get('sig') ?? ''
  const repeatedSig = await fetch(`${url}&sig=${encodeURIComponent(sig)}`)
  t.equal(repeatedSig.status, 401)
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 1, 'the provider\'s payload gone wrong: the alert on rejected reports sees it')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="unsigned"}'), 1)
  t.notMatch(metrics, /sms_gateway_delivery_reports_total\{[^}]*\} [1-9]/, 'no delivery counted')
})

t.test('a gateway without DLR_SECRET refuses every report', async (t) => {
  const gw = await startGateway(t)
  const answer = await fetch(`${gw.url}/dlr?smsid=1&stan=delivered&sig=x`)
  t.equal(answer.status, 403)
  const unreadable = await fetch(`${gw.url}/dlr?smsid=1&stan=delivered&sig=x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
  t.equal(unreadable.status, 403, 'refused before its body is read')
  const bareForm = await fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `sig=${'A'.repeat(43)}&smsid=1&stan=delivered` })
  t.equal(bareForm.status, 403, 'a form signed in its body too')
  const metrics = await scrape(gw)
  t.match(metrics, /sms_gateway_delivery_reports_rejected_total\{reason="bad_signature"\} 3/, 'an unreadable body too: this gateway signed no URL')
  t.match(metrics, /sms_gateway_delivery_reports_rejected_total\{reason="malformed"\} 0/)
})

t.test('a flood of junk states and reasons leaves the label set bounded', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const pending: Array<Promise<Response>> = []
  for (let i = 0; i < 400; i++) {
    const junk = `${'x'.repeat(i % 37)}${i}-${Math.random().toString(36).slice(2)}`
    pending.push(fetch(reportUrl(gw, { smsid: `id${i}`, stan: i % 3 === 0 ? 'delivered' : junk, przyczyna: i % 2 === 0 ? junk : 'message_expired' })))
    if (pending.length === 50) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
  const metrics = await scrape(gw)
  // Besides delivered with no reason, exported from 0 before the first report.
  const series = metrics.split('\n').filter((l) => l.startsWith('sms_gateway_delivery_reports_total{') && !l.endsWith('} 0'))
  t.ok(series.length <= 4, `few series: ${series.join(' | ')}`)
  t.ok(series.every((l) => /status="(delivered|other)",reason="(other|message_expired)"/.test(l)))
  t.equal(series.reduce((sum, line) => sum + Number(line.split(' ')[1]), 0), 400)
  t.ok(gw.logs.entries.some((e) => e.status === 'other' && typeof e.rawState === 'string'), 'the raw state goes to the log')
  t.ok(gw.logs.entries.some((e) => e.reason === 'other' && typeof e.rawReason === 'string'), 'and the raw reason')
  const reportLines = gw.logs.entries.filter((e) => e.route === '/dlr')
  t.notOk(reportLines.some((e) => (e.status !== 'other' && 'rawState' in e) || (e.reason !== 'other' && 'rawReason' in e)), 'a word that was understood is not logged raw')
})

t.test('a second word not understood for the same message is a repeat for the counters, and still logged', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  t.equal(await (await fetch(reportUrl(gw, { smsid: 'f2', stan: 'expired-ish' }))).text(), 'OK')
  t.equal(await (await fetch(reportUrl(gw, { smsid: 'f2', stan: 'rejected-ish', przyczyna: 'odd-reason' }))).text(), 'OK')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="other",reason="none"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_duplicate_total'), 1)
  const lines = gw.logs.entries.filter((e) => e.route === '/dlr' && e.messageId === 'f2')
  t.match(lines, [{ rawState: 'expired-ish' }, { duplicate: true, rawState: 'rejected-ish', rawReason: 'odd-reason' }])
})

t.test('a HEAD counts nothing, and a message id in JSON must be a whole number written exactly', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const head = await fetch(reportUrl(gw, { smsid: 'h1', stan: 'delivered' }), { method: 'HEAD' })
  t.equal(head.status, 405, 'no HEAD twin of GET /dlr')
  t.equal(head.headers.get('allow'), 'GET, POST')
  const signed = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const query = signed.slice(signed.indexOf('?') + 1, signed.indexOf('&smsid='))
  const post = async (smsid: unknown) => fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"smsid":${String(smsid)},"stan":"delivered"}` })
  const inexact = await post('12345678901234567890123')
  t.equal(inexact.status, 400)
  t.match(await inexact.json(), { code: 'GW_VALIDATION_FAILED', errors: [{ field: '/smsid' }] })
  t.equal((await post(1078731325)).status, 200)
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 1, 'only the exact id counted')
})

t.test('refusals of a report name where the field was looked for, and what to send instead', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const query = signed.slice(signed.indexOf('?') + 1, signed.indexOf('&smsid='))
  const byGet = await fetch(`${gw.url}/dlr?${query}&stan=delivered`)
  t.same(((await byGet.json()) as { errors: unknown }).errors, [{ field: 'querystring:/smsid', reason: 'the message id is missing' }])
  const byPost = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stan":"delivered"}' })
  t.same(((await byPost.json()) as { errors: unknown }).errors, [{ field: '/smsid', reason: 'the message id is missing' }])
  const overlongInQuery = await fetch(`${gw.url}/dlr?${query}&smsid=${'x'.repeat(201)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stan":"delivered"}' })
  t.same(((await overlongInQuery.json()) as { errors: unknown }).errors, [{ field: 'querystring:/smsid', reason: 'is repeated, not text (or a whole number), or too long' }], 'a JSON report whose query holds an unusable field')
  const text = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'smsid=1' })
  t.equal(text.status, 400, 'a body of another type is set aside: the fields are looked for in the query')
  t.same(((await text.json()) as { errors: unknown }).errors, [{ field: 'querystring:/smsid', reason: 'the message id is missing' }])
  const repeatedOlderName = await fetch(`${gw.url}/dlr?${query}&id=a3&id=a4&stan=delivered`)
  t.match(await repeatedOlderName.json(), { detail: /^id: /, errors: [{ field: 'querystring:/id' }] }, 'an unusable field named as sent, an older name too')
  const trueInJson = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":true,"stan":"delivered"}' })
  t.match(await trueInJson.json(), { errors: [{ field: '/id' }] })
  const nullInJson = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":null,"stan":"delivered"}' })
  t.match(await nullInJson.json(), { errors: [{ field: '/smsid', reason: 'the message id is missing' }] }, 'a JSON null is no value')
})

t.test('a report whose date or reason cannot be read is taken without them; a null is no value; a long reason is cut', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const json = { 'content-type': 'application/json' }
  const query = new URL(reportUrl(gw, {})).search.slice(1)
  const nullReason = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: json, body: '{"smsid":"n1","stan":"delivered","data":"2026-11-25 12:00:05","przyczyna":null}' })
  t.equal(nullReason.status, 200, 'a JSON report with "przyczyna": null')
  const nullDate = await fetch(reportUrl(gw, { smsid: 'n2', stan: 'delivered' }), { method: 'POST', headers: json, body: '{"data":null,"przyczyna":null}' })
  t.equal(nullDate.status, 200, 'a body adding nulls to the signed URL\'s fields')
  const unreadable = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: json, body: '{"smsid":"n3","stan":"undelivered","data":{},"przyczyna":["a","b"]}' })
  t.equal(unreadable.status, 200, 'a date and a reason that cannot be read')
  // (The signed URL here carries a date of its own: only the reason is the body's.)
  t.match(gw.logs.entries.find((entry) => entry.messageId === 'n3'), { status: 'undelivered', reason: 'none', setAside: ['przyczyna'] }, 'the line says what was set aside')
  const long = `Message expired ${'ą'.repeat(200)}`
  const longReason = await fetch(reportUrl(gw, { smsid: 'n4', stan: 'undelivered', przyczyna: long }))
  t.equal(longReason.status, 200, `a reason of ${long.length} characters`)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 2)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="undelivered",reason="none"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="undelivered",reason="other"}'), 1, 'words not known: other, the state kept')
  t.equal((gw.logs.entries.find((entry) => entry.messageId === 'n4')?.rawReason as string).length, 200, 'its first 200 characters logged')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 0, 'none refused')
})

t.test('the fields the provider filled into the signed URL beat a body\'s; a body fills in only what the URL lacks', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const overridden = await fetch(reportUrl(gw, { smsid: 'e6', stan: 'delivered' }), { method: 'POST', headers: form, body: 'status=ok&id=12345' })
  t.equal(overridden.status, 200)
  const blanks = await fetch(reportUrl(gw, { smsid: 'e7', stan: 'delivered' }), { method: 'POST', headers: form, body: 'smsid=&stan=' })
  t.equal(blanks.status, 200, 'blank body fields leave the URL\'s values in place')
  const filledIn = await fetch(reportUrl(gw, { stan: 'undelivered', przyczyna: 'wrong_number' }), { method: 'POST', headers: form, body: 'smsid=e8&stan=delivered' })
  t.equal(filledIn.status, 200, 'the message id the URL lacks comes from the body, the state still from the URL')
  const mixed = await fetch(reportUrl(gw, { smsid: 'e9', stan: 'delivered' }), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"smsid":"f1","stan":"undelivered","przyczyna":"Message expired"}' })
  t.equal(mixed.status, 200, 'a body about another message is left out whole: no reason of its own is taken')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 3)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="undelivered",reason="wrong_number"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="other",reason="none"}'), 0, 'the body\'s word not counted')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="message_expired"}'), 0, 'one report is never made of two')
  const ids = gw.logs.entries.filter((e) => e.route === '/dlr').map((e) => [e.messageId, e.status])
  t.same(ids, [['e6', 'delivered'], ['e7', 'delivered'], ['e8', 'undelivered'], ['e9', 'delivered']])
})

t.test('a push whose body is neither JSON nor a form (multipart, text) is read from its URL, not refused', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const push = (smsid: string, init: RequestInit) => fetch(reportUrl(gw, { smsid, stan: 'delivered' }), { method: 'POST', ...init })
  const form = new FormData()
  form.append('smsid', 'm1')
  form.append('stan', 'delivered')
  const multipart = await push('m1', { body: form })
  t.equal(multipart.status, 200, 'multipart/form-data, as PHP\'s curl posts an array')
  t.equal(await multipart.text(), 'OK')
  const text = await push('m2', { headers: { 'content-type': 'text/plain' }, body: 'delivered' })
  t.equal(text.status, 200, 'text/plain')
  const none = await push('m3', { headers: { 'content-type': 'application/octet-stream' }, body: Uint8Array.of(0xff, 0x00) })
  t.equal(none.status, 200, 'bytes')
  const tooLarge = await push('m4', { headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(2 * 1024 * 1024) })
  t.equal(tooLarge.status, 413, 'the body limit still holds')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 3)
})

t.test('a report refused for its body (type, encoding, size) is malformed when its URL is signed, and counted by its signature when not; a forged or expired URL is refused before its body is read', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const query = signed.slice(signed.indexOf('?') + 1, signed.indexOf('&smsid='))
  const forged = query.replace(/sig=(.)/, (_match, first: string) => `sig=${first === 'A' ? 'B' : 'A'}`)
  const expired = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now() - 120_000, expiresAt: Date.now() - 60_000 })
  const expiredQuery = expired.slice(expired.indexOf('?') + 1, expired.indexOf('&smsid='))
  /** `refusedFirst`: the status of a URL refused for its signature, before any body is read. */
  const badBodies = async (urlQuery: string, refusedFirst?: number) => {
    const post = async (contentType: string, body: string | Uint8Array) => (await fetch(`${gw.url}/dlr?${urlQuery}smsid=b1&stan=delivered`, { method: 'POST', headers: { 'content-type': contentType }, body })).status
    t.equal(await post('application/json', ''), refusedFirst ?? 400)
    t.equal(await post('application/json', Uint8Array.of(0x7b, 0x22, 0xb3, 0x22, 0x3a, 0x31, 0x7d)), refusedFirst ?? 400, 'not UTF-8')
    t.equal(await post('application/json; charset=iso-8859-2', '{}'), refusedFirst ?? 415)
    t.equal(await post('application/json', `{"smsid":"${'x'.repeat(2 * 1024 * 1024)}"}`), refusedFirst ?? 413)
  }
  await badBodies(`${query}&`)
  let metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 4, 'signed: the provider\'s payload went unread')

  // The same bodies from anyone else: the alert on rejected reports must not take them for the provider's.
  // Without a signature in its URL a POST may carry one in its body, which is read for it.
  await badBodies('')
  await badBodies(`${forged}&`, 403)
  await badBodies(`${expiredQuery}&`, 403)
  metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 4, 'no more malformed')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="unsigned"}'), 4)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="bad_signature"}'), 4)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="expired"}'), 4)
  t.notMatch(metrics, /sms_gateway_delivery_reports_total\{[^}]*\} [1-9]/, 'no delivery counted')
})

t.test('a form the gateway cannot read (compressed, or in a charset it cannot decode) is refused with 415, even when its URL carries the report', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const query = signed.slice(signed.indexOf('?') + 1, signed.indexOf('&smsid='))
  const gzipped = { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }
  const compressed = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: gzipped, body: gzipSync('smsid=g1&stan=delivered') })
  t.equal(compressed.status, 415)
  t.match(await compressed.json(), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', detail: 'Send the body uncompressed; Content-Encoding gzip is not supported.' })
  const wholeUrl = await fetch(reportUrl(gw, { smsid: 'g2', stan: 'undelivered', przyczyna: 'wrong_number' }), { method: 'POST', headers: gzipped, body: gzipSync('smsid=g2') })
  t.equal(wholeUrl.status, 415, 'refused even when the signed URL carries every field')
  const windows1250 = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=windows-1250' }, body: 'smsid=g3&stan=delivered' })
  t.equal(windows1250.status, 415)
  t.match(await windows1250.json(), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', detail: 'Send the form in UTF-8 or ISO-8859-2; charset=windows-1250 is not supported.' })
  // Anyone may send these, signed or not: what the answer and the log quote of a header is bounded.
  for (const headers of [{ 'content-type': `application/x-www-form-urlencoded; charset=${'k'.repeat(15_000)}` }, { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'x'.repeat(15_000) }] as Array<Record<string, string>>) {
    const long = await fetch(`${gw.url}/dlr`, { method: 'POST', headers, body: 'smsid=g5&stan=delivered' })
    const body = await long.text()
    t.equal(long.status, 415)
    t.match(JSON.parse(body), { detail: /(?:charset=k{100}|Content-Encoding x{100})… is not supported\.$/ }, 'a long header is quoted cut')
    t.ok(body.length < 1000, `the answer is short (${body.length} characters)`)
  }
  t.notOk(gw.logs.lines.some((line) => line.includes('k'.repeat(101)) || line.includes('x'.repeat(101))), 'and so is the log line')
  const setAside = await fetch(reportUrl(gw, { smsid: 'g4', stan: 'delivered' }), { method: 'POST', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, body: gzipSync('g4 delivered') })
  t.equal(setAside.status, 200, 'a body of a type never read is set aside, compressed or not')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 3, 'signed: counted as the provider\'s payload gone unread')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="undelivered",reason="wrong_number"}'), 0)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 1, 'only the report whose body was set aside')
})

t.test('a report\'s words are read in the charset its form declares, and a value that is not UTF-8 as Latin-2', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const query = signed.slice(signed.indexOf('?') + 1, signed.indexOf('&smsid='))
  const post = async (contentType: string, body: string | Uint8Array) => await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: { 'content-type': contentType }, body })
  const latin2 = (text: string) => Buffer.from(text, 'latin1')
  const form = 'application/x-www-form-urlencoded'
  // ę is 0xEA and ł 0xB3 in ISO-8859-2; 0xC4 0x99 is ę in UTF-8.
  t.equal((await post(`${form}; charset=iso-8859-2`, latin2('smsid=l1&stan=dor\xeaczony'))).status, 200)
  t.equal((await post(`${form}; charset=Latin2`, latin2('smsid=l2&stan=z\xb3y'))).status, 200)
  t.equal((await fetch(`${gw.url}/dlr?${query}&smsid=l3&stan=dor%EAczona`)).status, 200, 'a Latin-2 escape in the signed URL: the signature still holds')
  t.equal((await fetch(`${gw.url}/dlr?${query}&smsid=l4&stan=dor%C4%99czona`)).status, 200)
  t.equal((await post(form, 'smsid=l5&stan=niedor%EAczona')).status, 200)
  t.equal((await post(`${form}; charset=us-ascii`, latin2('smsid=l6&stan=wys\xb3any'))).status, 200)
  t.equal((await post(`${form}; charset=utf-8`, 'smsid=l7&stan=dor%C4%99czony')).status, 200)
  t.equal((await fetch(`${gw.url}/dlr?${query}&smsid=l8&stan=%25EA`)).status, 200, 'an escaped %')
  const logged = Object.fromEntries(gw.logs.entries.filter((e) => e.route === '/dlr').map((e) => [e.messageId, [e.status, e.rawState]]))
  t.same(logged, {
    l1: ['delivered', undefined],
    l2: ['other', 'zły'],
    l3: ['delivered', undefined],
    l4: ['delivered', undefined],
    l5: ['undelivered', undefined],
    l6: ['sent', undefined],
    l7: ['delivered', undefined],
    l8: ['other', '%EA']
  })
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 4)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="other",reason="none"}'), 2)
})

t.test('a report body larger than any report URL is refused before it is parsed, signed or not', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = signDeliveryUrl(gw.url, DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const query = signed.slice(signed.indexOf('?') + 1, signed.indexOf('&smsid='))
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  // The size of a URL the header limit still lets through, posted as a form.
  const atLimit = `${query}&smsid=big1&stan=delivered&pad=${'x'.repeat(REPORT_BODY_LIMIT - query.length - 40)}`
  t.equal((await fetch(`${gw.url}/dlr`, { method: 'POST', headers: form, body: atLimit })).status, 200, 'a form as large as the largest URL')
  const padded = `smsid=big2&stan=delivered&pad=${'x'.repeat(REPORT_BODY_LIMIT)}`
  const tooLarge = await fetch(`${gw.url}/dlr?${query}`, { method: 'POST', headers: form, body: padded })
  t.equal(tooLarge.status, 413)
  t.match(await tooLarge.json(), { code: 'GW_BODY_TOO_LARGE', detail: `The body exceeds this route's limit of ${REPORT_BODY_LIMIT} bytes.` }, 'the limit of /dlr, nothing about /sms')
  const unsigned = await fetch(`${gw.url}/dlr`, { method: 'POST', headers: form, body: `${'k=&'.repeat(REPORT_BODY_LIMIT)}` })
  t.equal(unsigned.status, 413, 'an unsigned one too: nobody gets the gateway to parse more than a report')
  const metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="malformed"}'), 1, 'the signed one')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="unsigned"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 1)
})

t.test('a caller who goes away half-way through a report\'s body is not a refused report', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const signed = reportUrl(gw, { smsid: 'c1', stan: 'delivered' })
  const { port } = new URL(gw.url)
  for (const path of [signed.slice(gw.url.length), '/dlr']) {
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`POST ${path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nsmsid=c1`)
    // Time for the gateway to read the headers and start waiting for the rest of the body.
    await sleep(100)
    socket.destroy()
  }
  // The gateway writes each request's line once it is done with it: a caller-left line for each.
  const deadline = Date.now() + 5_000
  const callerLeft = () => gw.logs.entries.filter((e) => e.path === '/dlr' && e.callerLeft === true).length
  while (callerLeft() < 2 && Date.now() < deadline) await sleep(10)
  t.equal(callerLeft(), 2, 'the gateway finished with both requests')
  // Were it still holding them, closing the gateway would wait forever.
  gw.app.server.closeAllConnections()
  const metrics = await scrape(gw)
  for (const reason of ['unsigned', 'malformed', 'bad_signature', 'expired']) {
    t.equal(sample(metrics, `sms_gateway_delivery_reports_rejected_total{reason="${reason}"}`), 0, reason)
  }
  t.notMatch(metrics, /sms_gateway_delivery_reports_total\{[^}]*\} [1-9]/, 'no delivery counted')
})

t.test('pairs a replica without Redis forgets inside their window are counted as evicted, and their repeats count again', async (t) => {
  // The gateway, with a memory of 3 pairs instead of MAX_REMEMBERED_REPORTS. (The route is mocked
  // on its own: a mock reaches only the modules its importer imports by their written name.)
  const MEMORY = 3
  const actual = await import('../../src/dlr/report-dedup.js')
  class SmallMemory extends actual.ReportDeduplicator {
    constructor (windowMs: number, options: ReportDeduplicatorOptions = {}) { super(windowMs, { ...options, maxEntries: MEMORY }) }
  }
  const route = await t.mockImport('../../src/routes/dlr/index.js', { '../../src/dlr/report-dedup.js': { ...actual, ReportDeduplicator: SmallMemory } })
  const { default: smallApp } = await t.mockImport<typeof import('../../src/app.js')>('../../src/app.js', { '../../src/routes/dlr/index.js': route })
  const config = testConfig({ SERWERSMS_API_URL: 'http://127.0.0.1:9', PUBLIC_URL: 'http://127.0.0.1:1', DLR_SECRET })
  const gw = Fastify(serverOptions(config, { logger: false }))
  t.teardown(() => gw.close())
  await gw.register(smallApp, { config })
  const signed = signDeliveryUrl('', DLR_SECRET, { sentAt: Date.now(), expiresAt: Date.now() + 60_000 })
  const report = async (smsid: string) => (await gw.inject(signed.replace('#SMSID#', smsid).replace('#STAN#', 'delivered').replace('#DATA#', '').replace('#PRZYCZYNA#', ''))).statusCode
  const metrics = async () => (await gw.inject('/metrics')).body
  t.match(await metrics(), '\nsms_gateway_delivery_reports_dedup_evicted_total 0\n', 'exported from 0')
  for (const id of ['e1', 'e2', 'e3', 'e3']) t.equal(await report(id), 200)
  t.equal(sample(await metrics(), 'sms_gateway_delivery_reports_dedup_evicted_total'), 0, 'nothing forgotten within the bound')
  t.equal(await report('e4'), 200)
  t.equal(await report('e1'), 200)
  const after = await metrics()
  t.equal(sample(after, 'sms_gateway_delivery_reports_dedup_evicted_total'), 2, 'e1 made room for e4, then e2 for e1 again')
  t.equal(sample(after, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 5, 'e1\'s repeat counted again')
  t.equal(sample(after, 'sms_gateway_delivery_reports_duplicate_total'), 1, 'only e3\'s repeat, remembered, was caught')
})
