import { spawnSync } from 'node:child_process'
import { METHODS, request } from 'node:http'
import { once } from 'node:events'
import { connect, createServer, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { signDeliveryUrl } from '../../src/dlr/signing.js'
import { MAX_UNANSWERED_PER_CONNECTION } from '../../src/plugins/pipelining.js'
import { PLAIN_HTTP_PUBLIC_URL, REPORTS_WITHOUT_PUBLIC_URL } from '../../src/routes/dlr/index.js'
import { DROPPED_DEFAULT_METRICS, FAILURE_REASONS, FINAL_FAILURE_STATES, LABELLED_METHODS, LATENCY_STATES_FROM_ZERO, OTHER_METHOD, REJECTION_REASONS } from '../../src/plugins/metrics.js'
import { RECIPIENT_STATUSES } from '../../src/schemas/sms.js'
import { serverOptions } from '../../src/server-options.js'
import { UPSTREAM_METRIC_OUTCOMES } from '../../src/serwersms/send-sms.js'
import { authHeader, DLR_SECRET, freePort, startGateway, testConfig, type GatewayUnderTest } from '../helper.js'

const METRICS_TOKEN = 'metrics-token-0123456789'

const scrape = async (gw: GatewayUnderTest) => (await fetch(`${gw.url}/metrics`)).text()
/** The value of one series in an exposition, 0 when it is absent. */
const sample = (exposition: string, series: string) => Number(exposition.split('\n').find((line) => line.startsWith(`${series} `))?.split(' ')[1] ?? 0)

/** A report of message `smsid` pushed to a URL the gateway signed with these times. */
function signedReport (gw: GatewayUnderTest, smsid: string, signed: { sentAt?: number, expiresAt?: number }, state = 'delivered'): string {
  return signDeliveryUrl(gw.url, DLR_SECRET, signed).replace('#SMSID#', smsid).replace('#STAN#', state).replace('#DATA#', '').replace('#PRZYCZYNA#', '')
}

t.test('/metrics passes promtool\'s lint with every gateway metric present', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true, simulator: { deliveryReports: { delayMs: 10 } } })
  await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to: ['+48500600700', 'bad'], text: 'x' }) })
  await gw.simulator.flushDeliveryReports()
  await fetch(`${gw.url}/dlr?smsid=1&stan=delivered`)
  const response = await fetch(`${gw.url}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const body = await response.text()
  for (const name of [
    'sms_gateway_messages_total', 'sms_gateway_test_messages_total', 'sms_gateway_message_parts_total', 'sms_gateway_delivery_reports_total',
    'sms_gateway_delivery_reports_rejected_total', 'sms_gateway_delivery_reports_enabled', 'sms_gateway_delivery_seconds', 'sms_gateway_upstream_requests_total',
    'sms_gateway_upstream_request_duration_seconds', 'sms_gateway_http_request_duration_seconds', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes'
  ]) {
    t.match(body, new RegExp(`^# TYPE ${name} `, 'm'), name)
  }
  for (const name of DROPPED_DEFAULT_METRICS) t.notMatch(body, new RegExp(`^${name}`, 'm'), `${name} dropped`)
  t.match(body, /sms_gateway_http_request_duration_seconds_count\{method="POST",route="\/sms",status_code="200"\} 1/)
  t.notMatch(body, /48500600700/, 'no phone number in any label')
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })
  t.equal(lint.error, undefined, 'promtool runs (Debian package prometheus)')
  t.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`)
})

t.test('a test send is counted apart: neither a message waiting for its report nor billed parts', async (t) => {
  const gw = await startGateway(t)
  const send = async (body: Record<string, unknown>) => fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify(body) })
  t.equal((await send({ to: ['+48500600700', '+48500600701', 'bad'], text: 'x', test: true })).status, 200)
  t.equal((await send({ to: '+48500600702', text: 'x', test: false })).status, 200)
  const body = await (await fetch(`${gw.url}/metrics`)).text()
  const value = (series: string) => Number(body.split('\n').find((line) => line.startsWith(`${series} `))?.split(' ')[1] ?? 0)
  t.equal(value('sms_gateway_test_messages_total{status="queued",client="billing"}'), 2)
  t.equal(value('sms_gateway_test_messages_total{status="unsent",client="billing"}'), 1)
  t.equal(value('sms_gateway_messages_total{status="queued",client="billing"}'), 1, 'only the real send')
  t.equal(value('sms_gateway_messages_total{status="unsent",client="billing"}'), 0)
  t.equal(value('sms_gateway_message_parts_total{client="billing"}'), 1, 'only the real send\'s part')
  const lines = gw.logs.entries.filter((entry) => entry.route === '/sms')
  t.same(lines.map((entry) => entry.test), [true, undefined], 'the log line says which was a test')
})

t.test('every reason of a refused report is exported at 0 before the first refusal', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const before = await (await fetch(`${gw.url}/metrics`)).text()
  for (const reason of REJECTION_REASONS) t.match(before, `\nsms_gateway_delivery_reports_rejected_total{reason="${reason}"} 0\n`, reason)
  await fetch(`${gw.url}/dlr?smsid=1&stan=delivered`)
  t.match(await (await fetch(`${gw.url}/metrics`)).text(), '\nsms_gateway_delivery_reports_rejected_total{reason="unsigned"} 1\n')
})

t.test('a signature that cannot be one of ours counts as unsigned; only one of our shape that fails is bad_signature', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const anyones = await fetch(`${gw.url}/dlr?smsid=1&stan=delivered&sig=x`)
  t.equal(anyones.status, 403, 'still refused as a signature that does not match')
  t.match(await anyones.json(), { code: 'GW_DLR_SIGNATURE_INVALID' })
  const junkBody = await fetch(`${gw.url}/dlr?sig=x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
  t.equal(junkBody.status, 403)
  let metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="unsigned"}'), 2, 'the forged query, and junk posted to it')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="bad_signature"}'), 0, 'nothing the alert on rejected reports looks at')

  const genuine = signedReport(gw, 'm1', { sentAt: Date.now() - 5000, expiresAt: Date.now() + 60_000 })
  const ourShape = await fetch(genuine.replace(/sig=[\w-]+/, `sig=${'A'.repeat(43)}`))
  t.equal(ourShape.status, 403)
  metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="bad_signature"}'), 1, 'a wrong DLR_SECRET looks like this')
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_rejected_total{reason="unsigned"}'), 2)
})

t.test('a report before its send time is counted and logged, never observed as a latency', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const expiresAt = Date.now() + 600_000
  t.equal((await fetch(signedReport(gw, 'early', { sentAt: Date.now() + 60_000, expiresAt }))).status, 200)
  let metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_before_send_total{status="delivered"}'), 1)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_total{status="delivered",reason="none"}'), 1, 'still a delivery')
  t.equal(sample(metrics, 'sms_gateway_delivery_seconds_count{status="delivered"}'), 0, 'no latency of 0 s, nor a negative one')
  const warning = gw.logs.entries.find((entry) => entry.messageId === 'early' && entry.level === 40)
  t.ok(warning !== undefined, 'a warning')
  t.ok(Number(warning?.secondsBeforeSend) > 59 && Number(warning?.secondsBeforeSend) <= 60, `with how early: ${String(warning?.secondsBeforeSend)}`)

  // A scheduled send leaves at the second its provider date names: up to a second before the
  // send time signed in its URL, on the same clock.
  t.equal((await fetch(signedReport(gw, 'same-second', { sentAt: Date.now() + 500, expiresAt }))).status, 200)
  metrics = await scrape(gw)
  t.equal(sample(metrics, 'sms_gateway_delivery_reports_before_send_total{status="delivered"}'), 1, 'not before its send')
  t.equal(sample(metrics, 'sms_gateway_delivery_seconds_count{status="delivered"}'), 1, 'observed')
  t.equal(sample(metrics, 'sms_gateway_delivery_seconds_bucket{le="1",status="delivered"}'), 1, 'as at once')
})

t.test('counters an alert takes increase() of are exported at 0 before their first event', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  const before = await (await fetch(`${gw.url}/metrics`)).text()
  for (const client of ['billing', 'shop']) {
    for (const status of RECIPIENT_STATUSES) t.match(before, `\nsms_gateway_messages_total{status="${status}",client="${client}"} 0\n`, `${client} ${status}`)
    t.match(before, `\nsms_gateway_message_parts_total{client="${client}"} 0\n`, `${client} parts`)
    t.match(before, `\nsms_gateway_scheduled_messages_total{client="${client}"} 0\n`, `${client} scheduled`)
  }
  for (const outcome of UPSTREAM_METRIC_OUTCOMES) t.match(before, `\nsms_gateway_upstream_requests_total{outcome="${outcome}"} 0\n`, outcome)
  t.match(before, '\nsms_gateway_delivery_reports_total{status="delivered",reason="none"} 0\n', 'delivered reports')
  for (const status of FINAL_FAILURE_STATES) {
    for (const reason of ['none', ...FAILURE_REASONS]) t.match(before, `\nsms_gateway_delivery_reports_total{status="${status}",reason="${reason}"} 0\n`, `${status} ${reason}`)
  }
  t.equal(before.split('\n').filter((line) => line.startsWith('sms_gateway_delivery_reports_total{')).length, 1 + FINAL_FAILURE_STATES.length * (1 + FAILURE_REASONS.length), 'and no other series')
  // SmsNoDeliveryReports is held off by the increase of these: a batch whose reports all came before the first scrape counts.
  for (const status of LATENCY_STATES_FROM_ZERO) {
    t.match(before, `\nsms_gateway_delivery_seconds_bucket{le="3600",status="${status}"} 0\n`, `${status} latencies`)
    t.match(before, `\nsms_gateway_delivery_seconds_count{status="${status}"} 0\n`)
  }
  t.notMatch(before, /sms_gateway_delivery_seconds_count\{status="(?:pending|other)"\}/, 'not the states reports seldom come in')
  t.match(before, '\nsms_gateway_delivery_reports_dedup_evicted_total 0\n', 'report pairs forgotten inside their window')
  t.notMatch(before, /sms_gateway_messages_total\{[^}]*client="anonymous"/, 'no series for a client that cannot call')

  const anonymous = await startGateway(t, { env: { AUTH_DISABLED: 'true', API_KEYS: '' } })
  t.match(await (await fetch(`${anonymous.url}/metrics`)).text(), '\nsms_gateway_messages_total{status="failed",client="anonymous"} 0\n', 'without authentication, the one client there is')
})

t.test('the gateway says whether it takes delivery reports, so that their absence alerts only where it does', async (t) => {
  const taking = await startGateway(t, { deliveryReportsToSelf: true })
  t.match(await (await fetch(`${taking.url}/metrics`)).text(), '\nsms_gateway_delivery_reports_enabled 1\n', 'DLR_SECRET set')
  const notTaking = await startGateway(t)
  t.match(await (await fetch(`${notTaking.url}/metrics`)).text(), '\nsms_gateway_delivery_reports_enabled 0\n', 'no DLR_SECRET')
  t.notOk([taking, notTaking].some((gw) => gw.logs.entries.some((e) => e.msg === REPORTS_WITHOUT_PUBLIC_URL)))
  // Reports only from a URL set in the SerwerSMS panel: the gateway expects them, and says so at start, for an operator who meant none.
  const fromPanel = await startGateway(t, { env: { DLR_SECRET: 'p'.repeat(32) } })
  t.match(await (await fetch(`${fromPanel.url}/metrics`)).text(), '\nsms_gateway_delivery_reports_enabled 1\n', 'DLR_SECRET without PUBLIC_URL')
  const said = fromPanel.logs.entries.filter((e) => e.msg === REPORTS_WITHOUT_PUBLIC_URL)
  t.equal(said.length, 1, 'said once at start')
  t.equal(said[0]?.level, 30, 'as information')
})

t.test('a plain-http PUBLIC_URL in front of SerwerSMS itself is warned of at start: its signed URLs would cross the internet in clear', async (t) => {
  const provider = { SERWERSMS_API_URL: 'https://api2.serwersms.pl/', DLR_SECRET: 'p'.repeat(32) }
  const plain = await startGateway(t, { env: { ...provider, PUBLIC_URL: 'http://sms.example.com' } })
  t.match(plain.logs.entries.filter((e) => e.msg === PLAIN_HTTP_PUBLIC_URL), [{ level: 40 }])
  t.equal(plain.logs.entries.filter((e) => e.msg === PLAIN_HTTP_PUBLIC_URL).length, 1, 'once')
  const quiet = [
    await startGateway(t, { env: { ...provider, PUBLIC_URL: 'https://sms.example.com' } }),
    // A simulator's reports stay on the machine or the compose network.
    await startGateway(t, { env: { DLR_SECRET: 'p'.repeat(32), PUBLIC_URL: 'http://127.0.0.1:9' } })
  ]
  t.notOk(quiet.some((gw) => gw.logs.entries.some((e) => e.msg === PLAIN_HTTP_PUBLIC_URL)), 'not with https, nor in front of a simulator')
})

t.test('unmatched routes share one label value', async (t) => {
  const gw = await startGateway(t)
  for (let i = 0; i < 5; i++) await fetch(`${gw.url}/random-${i}`)
  const body = await (await fetch(`${gw.url}/metrics`)).text()
  t.notMatch(body, /random-/)
  t.match(body, /route="unmatched",status_code="404"\} 5/)
})

t.test('the method label is one the routes answer, or other: a caller cannot add series', async (t) => {
  const config = testConfig()
  const server = Fastify(serverOptions(config, { logger: false }))
  const answered = new Set<string>()
  server.addHook('onRoute', ({ method }) => { for (const name of [method].flat()) answered.add(name) })
  await server.register(app, { config })
  await server.ready()
  await server.close()
  t.same([...answered].sort(), [...LABELLED_METHODS].sort(), 'every method a route answers has a label of its own, and only those')

  const gw = await startGateway(t)
  const { port } = new URL(gw.url)
  const send = async (method: string, path: string) => await new Promise<void>((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path }, (response) => { response.resume().on('end', resolve) }).on('error', reject).end()
  })
  // Each of Node's methods but CONNECT (a tunnel, never routed), where no route is and where one is.
  for (const method of METHODS.filter((name) => name !== 'CONNECT')) {
    for (const path of ['/nowhere', '/sms', '/healthz']) await send(method, path)
  }
  const series = (await scrape(gw)).split('\n').filter((line) => line.startsWith('sms_gateway_http_request_duration_seconds_count{'))
  const labelled = new Set(series.map((line) => /method="([^"]*)"/.exec(line)?.[1]))
  t.same([...labelled].sort(), [...LABELLED_METHODS, OTHER_METHOD].sort(), 'the methods routes answer, and other')
  t.ok(series.length <= 12, `${series.length} series`)
  t.match(series.join('\n'), /\{method="other",route="unmatched",status_code="404"\} \d+/)
})

t.test('METRICS_TOKEN guards /metrics', async (t) => {
  const gw = await startGateway(t, { env: { METRICS_TOKEN } })
  const anonymous = await fetch(`${gw.url}/metrics`)
  t.equal(anonymous.status, 401)
  t.match(await anonymous.json(), { code: 'GW_METRICS_AUTH' })
  t.equal((await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-000000000' } })).status, 401)
  t.equal((await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200)
})

t.test('a METRICS_PORT that cannot be bound stops the start instead of leaving the gateway without metrics', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const { port } = taken.address() as AddressInfo
  await t.rejects(startGateway(t, { env: { METRICS_PORT: String(port) } }), { code: 'EADDRINUSE' })
})

t.test('METRICS_HOST binds the METRICS_PORT listener to another address than HOST; it bounds pipelining as the main one does', async (t) => {
  const port = await freePort()
  // 127.0.0.2 is this machine's too (all of 127/8 is loopback), and not HOST.
  const gw = await startGateway(t, { env: { HOST: '127.0.0.1', METRICS_PORT: String(port), METRICS_HOST: '127.0.0.2' } })
  t.equal((await fetch(`http://127.0.0.2:${port}/metrics`)).status, 200, 'served at METRICS_HOST')
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'and not at HOST')
  t.match(gw.logs.entries.find((entry) => entry.msg === 'metrics served on their own port'), { host: '127.0.0.2', port })
  const socket = connect(port, '127.0.0.2')
  socket.on('error', () => {})
  socket.write('GET /metrics HTTP/1.1\r\nHost: gw\r\n\r\n'.repeat(MAX_UNANSWERED_PER_CONNECTION + 24))
  let answers = 0
  socket.on('data', (chunk: Buffer) => { answers += chunk.toString('latin1').match(/HTTP\/1\.1 200 OK\r\n/g)?.length ?? 0 })
  await once(socket, 'close')
  t.ok(answers <= MAX_UNANSWERED_PER_CONNECTION, `a connection pipelining past the bound is cut (${answers} answers)`)
  t.ok(gw.logs.entries.some((entry) => entry.component === 'metrics-server' && /HTTP pipelining/.test(String(entry.msg))), 'and the metrics listener says so')
})

t.test('METRICS_PORT may be PORT when METRICS_HOST is another address: each listener binds the port at its own', async (t) => {
  const port = await freePort()
  const gw = await startGateway(t, { port, env: { HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(port), METRICS_HOST: '127.0.0.2' } })
  t.equal(gw.url, `http://127.0.0.1:${port}`, 'the API at HOST')
  t.equal((await fetch(`http://127.0.0.2:${port}/metrics`)).status, 200, '/metrics at METRICS_HOST, on the same port')
  t.equal((await fetch(`${gw.url}/metrics`)).status, 404, 'and not at HOST')
  t.equal((await fetch(`${gw.url}/readyz`)).status, 200)
})

t.test('METRICS_PORT serves /metrics on a port of its own, and not on the main one', async (t) => {
  const port = await freePort()
  const gw = await startGateway(t, { env: { METRICS_PORT: String(port), METRICS_TOKEN } })
  t.equal((await fetch(`${gw.url}/metrics`)).status, 404)
  const separate = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(separate.status, 200)
  t.match(await separate.text(), /sms_gateway_/)
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 401)
  const badUrl = await fetch(`http://127.0.0.1:${port}/%ZZ`)
  t.equal(badUrl.headers.get('content-type'), 'application/problem+json; charset=utf-8', 'the same HTTP rules as the main listener')
  t.match(await badUrl.json(), { code: 'GW_VALIDATION_FAILED', errors: [{ field: 'path', reason: /not a valid URL path/ }] })
  await gw.app.close()
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'closed with the app')
})
