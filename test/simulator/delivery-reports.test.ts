import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { DeliveryReportPusher, UNDELIVERED_REASONS, renderUrl } from '../../src/simulator/delivery-reports.js'
import { formatProviderDate, instantOfProviderDate } from '../../src/sms/send-date.js'
import { send, startReceiver, startTestSimulator, waitUntil } from './helper.js'

const WARSAW_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/
const PLACEHOLDERS = 'smsid=#SMSID#&stan=#STAN#&data=#DATA#&przyczyna=#PRZYCZYNA#'

t.test('a report per queued message arrives at dlr_url with the placeholders filled in', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 50 } })
  const dlrUrl = `${receiver.url}/dlr?static=keep&${PLACEHOLDERS}`
  const started = Date.now()
  const answer = await send(simulator, { phone: ['500600700', '600700800', '123', '500600700'], text: 'x', details: true, dlr_url: dlrUrl })
  await simulator.flushDeliveryReports()
  t.ok(Date.now() - started >= 45, 'after the delay')
  t.equal(receiver.reports.length, 2, 'only queued messages, each once')
  const queuedIds = answer.json.items.filter((item: { status: string }) => item.status === 'queued').map((item: { id: string }) => item.id)
  t.same(receiver.reports.map((report) => report.query.get('smsid')).sort(), queuedIds.sort())
  for (const report of receiver.reports) {
    t.equal(report.method, 'GET')
    t.equal(report.path, '/dlr')
    t.equal(report.query.get('stan'), 'delivered')
    t.match(report.query.get('data'), WARSAW_TIME)
    t.equal(report.query.get('przyczyna'), '')
    t.equal(report.query.get('static'), 'keep')
  }
  t.match(simulator.stats, { deliveryReportsSent: 2, deliveryReportsFailed: 0 })
})

t.test('a report without a reason leaves #PRZYCZYNA# unfilled, which cuts a GET push off there', async (t) => {
  t.equal(
    renderUrl(`http://x/?${PLACEHOLDERS}&after=1`, { id: '1', state: 'delivered', date: '2025-01-02 03:04:05', reason: '' }),
    'http://x/?smsid=1&stan=delivered&data=2025-01-02%2003%3A04%3A05&przyczyna=#PRZYCZYNA#&after=1'
  )
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/dlr?${PLACEHOLDERS}&after=1` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports.length, 1)
  const query = receiver.reports[0]!.query
  t.equal(query.get('przyczyna'), '', 'the fragment is not sent')
  t.equal(query.get('after'), null, 'nor anything behind it')
})

t.test('values are URL-encoded', async (t) => {
  t.equal(
    renderUrl(`http://x/?${PLACEHOLDERS}&again=#SMSID#`, { id: 'a b', state: 'undelivered', date: '2025-01-02 03:04:05', reason: 'wrong_number' }),
    'http://x/?smsid=a%20b&stan=undelivered&data=2025-01-02%2003%3A04%3A05&przyczyna=wrong_number&again=a%20b'
  )
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/raw?data=#DATA#` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports.length, 1)
  const raw = receiver.reports[0]?.query.toString() ?? ''
  t.match(raw, /^data=\d{4}-\d{2}-\d{2}(\+|%20)\d{2}%3A\d{2}%3A\d{2}$/)
})

t.test('an URL-encoded dlr_url, as the seed asks clients to send it, works too', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: encodeURIComponent(`${receiver.url}/dlr?${PLACEHOLDERS}`) })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports[0]?.query.get('stan'), 'delivered')
})

t.test('form bodies carry the dlr_url too', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/dlr?${PLACEHOLDERS}` }, { form: true })
  await simulator.flushDeliveryReports()
  t.match(receiver.reports[0]?.query.get('smsid'), /^[0-9a-f]{10}$/)
})

t.test('POST sends the query as a form body', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0, method: 'POST' } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/dlr?${PLACEHOLDERS}` })
  await send(simulator, { phone: '500600701', text: 'x', dlr_url: `${receiver.url}/no-query` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports.length, 2)
  const [withQuery, withoutQuery] = receiver.reports.sort((a, b) => a.path.localeCompare(b.path))
  t.match(withQuery, { method: 'POST', path: '/dlr', contentType: 'application/x-www-form-urlencoded' })
  t.equal(withQuery?.query.toString(), '')
  const form = new URLSearchParams(withQuery?.body)
  t.match(form.get('smsid'), /^[0-9a-f]{10}$/)
  t.equal(form.get('stan'), 'delivered')
  t.match(form.get('data'), WARSAW_TIME)
  t.equal(form.get('przyczyna'), '#PRZYCZYNA#', 'in a form body an unfilled placeholder arrives as it is')
  t.match(withoutQuery, { method: 'POST', path: '/no-query', body: '' })
})

t.test('duplicate pushes every report twice', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0, duplicate: true, mix: { undelivered: 1 } } })
  await send(simulator, { phone: ['500600700', '600700800'], text: 'x', dlr_url: `${receiver.url}/dlr?${PLACEHOLDERS}` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports.length, 4)
  const urls = receiver.reports.map((report) => report.query.toString())
  t.equal(new Set(urls).size, 2, 'the copies are identical')
  t.equal(simulator.stats.deliveryReportsSent, 4)
})

t.test('the mix decides the states; undelivered ones carry a reason', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0, mix: { delivered: 1, undelivered: 1, sent: 1 } } })
  const phones = Array.from({ length: 300 }, (_, index) => `+4850000${String(index).padStart(4, '0')}`)
  await send(simulator, { phone: phones, text: 'x', dlr_url: `${receiver.url}/dlr?${PLACEHOLDERS}` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports.length, 300)
  const counts: Record<string, number> = {}
  for (const report of receiver.reports) {
    const state = report.query.get('stan') ?? ''
    counts[state] = (counts[state] ?? 0) + 1
    const reason = report.query.get('przyczyna') ?? ''
    if (state === 'undelivered') t.ok((UNDELIVERED_REASONS as readonly string[]).includes(reason), reason)
    else t.equal(reason, '')
  }
  t.same(Object.keys(counts).sort(), ['delivered', 'sent', 'undelivered'])
  for (const count of Object.values(counts)) t.ok(count > 50, 'roughly a third each')
})

t.test('weights that are all zero or invalid mean delivered', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0, mix: { undelivered: 0, sent: -1, delivered: Number.NaN } } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/?s=#STAN#` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports[0]?.query.get('s'), 'delivered')
})

t.test('no reports in test mode, without dlr_url, or when disabled', async (t) => {
  const receiver = await startReceiver(t)
  const dlrUrl = `${receiver.url}/dlr?${PLACEHOLDERS}`
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: dlrUrl, test: true })
  await send(simulator, { phone: '500600700', text: 'x' })
  await send(simulator, { phone: '123', text: 'x', dlr_url: dlrUrl })
  const disabled = await startTestSimulator(t, { deliveryReports: false })
  await send(disabled, { phone: '500600700', text: 'x', dlr_url: dlrUrl })
  await disabled.flushDeliveryReports()
  const defaulted = await startTestSimulator(t)
  await send(defaulted, { phone: '500600700', text: 'x', dlr_url: dlrUrl })
  await Promise.all([simulator.flushDeliveryReports(), defaulted.flushDeliveryReports()])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(receiver.reports.length, 0)
  t.equal(simulator.stats.deliveryReportsSent + disabled.stats.deliveryReportsSent + defaulted.stats.deliveryReportsSent, 0)
})

t.test('failures are counted, never thrown', async (t) => {
  const receiver = await startReceiver(t)
  receiver.status = 500
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/dlr` })
  await simulator.flushDeliveryReports()
  t.match(simulator.stats, { deliveryReportsSent: 0, deliveryReportsFailed: 1 }, 'non-2xx status')

  receiver.status = 302
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/dlr` })
  await simulator.flushDeliveryReports()
  t.equal(receiver.reports.length, 2)
  t.equal(simulator.stats.deliveryReportsFailed, 2, 'redirects are not followed')

  for (const dlrUrl of ['ftp://example.com/dlr', 'not a url', 'javascript:alert(1)', 'http%3A%2F%2F%E0%A4%A']) {
    await send(simulator, { phone: ['500600700', '600700800'], text: 'x', dlr_url: dlrUrl })
  }
  t.equal(simulator.stats.deliveryReportsFailed, 10, 'unusable URLs count every report as failed')

  await send(simulator, { phone: '500600700', text: 'x', dlr_url: 'http://127.0.0.1:1/dlr' })
  await simulator.flushDeliveryReports()
  t.equal(simulator.stats.deliveryReportsFailed, 11, 'connection refused')
  t.equal(simulator.stats.deliveryReportsSent, 0)
})

t.test('flush waits for reports still waiting for their delay', async (t) => {
  const receiver = await startReceiver(t)
  // Long enough that none is pushed before the check below on a stalled machine; the flush waits it out.
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 3000 } })
  await simulator.flushDeliveryReports()
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/a` })
  await new Promise((resolve) => setTimeout(resolve, 20))
  await send(simulator, { phone: '500600701', text: 'x', dlr_url: `${receiver.url}/b` })
  t.equal(receiver.reports.length, 0)
  await Promise.all([simulator.flushDeliveryReports(), simulator.flushDeliveryReports()])
  t.same(receiver.reports.map((report) => report.path), ['/a', '/b'], 'in order')
})

t.test('reset drops the reports not yet pushed', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 300 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/a` })
  simulator.reset()
  await simulator.flushDeliveryReports()
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(receiver.reports.length, 0)
})

t.test('close cancels pending reports and settles flush', async (t) => {
  const receiver = await startReceiver(t)
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 10_000 } })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `${receiver.url}/a` })
  const flushed = simulator.flushDeliveryReports()
  await simulator.close()
  await flushed
  t.equal(receiver.reports.length, 0)
})

t.test('close aborts pushes under way without counting them', async (t) => {
  const { createServer } = await import('node:http')
  const server = createServer(() => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const port = (server.address() as { port: number }).port
  const simulator = await startTestSimulator(t, { deliveryReports: { delayMs: 0 } })
  let connected = false
  server.once('request', () => { connected = true })
  await send(simulator, { phone: '500600700', text: 'x', dlr_url: `http://127.0.0.1:${port}/never-answers` })
  await waitUntil(() => connected)
  // The receiver never answers: a close that waited for the push would never end.
  await simulator.close()
  t.match(simulator.stats, { deliveryReportsSent: 0, deliveryReportsFailed: 0 })
})

t.test('a scheduled send is reported on after its date, read in the zone the simulator is given', async (t) => {
  const receiver = await startReceiver(t)
  const delayMs = 50
  // Nine hours from Warsaw, all year: a date read in the wrong zone would be hours off.
  const simulator = await startTestSimulator(t, { timeZone: 'Asia/Tokyo', deliveryReports: { delayMs } })
  const date = formatProviderDate(new Date(Date.now() + 2000), 'Asia/Tokyo')
  const sendsAt = instantOfProviderDate(date, 'Asia/Tokyo')
  t.equal((await send(simulator, { phone: '500600700', text: 'x', date, dlr_url: `${receiver.url}/dlr?${PLACEHOLDERS}` })).json.queued, 1)
  await sleep(Math.max(0, sendsAt - Date.now() - 200))
  t.equal(receiver.reports.length, 0, 'nothing before the date')
  await waitUntil(() => receiver.reports.length === 1)
  t.ok(Date.now() >= sendsAt + delayMs, 'the delay after the date')
  t.equal(receiver.reports[0]?.query.get('stan'), 'delivered')
})

t.test('the pusher', async (t) => {
  t.test('pushes a batch due earlier before one scheduled for later, whatever their order', async (t) => {
    const receiver = await startReceiver(t)
    const pusher = new DeliveryReportPusher({ delayMs: 0 }, () => {})
    t.teardown(() => pusher.close())
    const now = Date.now()
    pusher.schedule(`${receiver.url}/?id=#SMSID#`, ['tomorrow'], now, now + 86_400_000)
    pusher.schedule(`${receiver.url}/?id=#SMSID#`, ['now'], now)
    await waitUntil(() => receiver.reports.length === 1)
    t.equal(receiver.reports[0]?.query.get('id'), 'now')
    await sleep(50)
    t.equal(receiver.reports.length, 1, 'the scheduled one waits for its time')
  })

  t.test('runs at most 16 pushes at once, in FIFO order', async (t) => {
    const { createServer } = await import('node:http')
    let active = 0
    let peak = 0
    const order: string[] = []
    const server = createServer((request, response) => {
      active++
      peak = Math.max(peak, active)
      order.push(request.url ?? '')
      setTimeout(() => {
        active--
        response.end('OK')
      }, 5)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => server.close())
    const port = (server.address() as { port: number }).port
    const outcomes: boolean[] = []
    const pusher = new DeliveryReportPusher({ delayMs: 0 }, (ok, count) => { for (let i = 0; i < count; i++) outcomes.push(ok) })
    t.teardown(() => pusher.close())
    const ids = Array.from({ length: 200 }, (_, index) => String(index))
    pusher.schedule(`http://127.0.0.1:${port}/?id=#SMSID#`, ids)
    pusher.schedule(`http://127.0.0.1:${port}/?id=#SMSID#`, [])
    await pusher.flush()
    t.equal(outcomes.length, 200)
    t.ok(outcomes.every(Boolean))
    t.ok(peak <= 16 && peak > 1, `peak concurrency ${peak}`)
    const firstArrivals = order.slice(0, 16).map((url) => Number(url.slice('/?id='.length)))
    t.ok(firstArrivals.every((id) => id < 48), `the first ones first: ${firstArrivals.join(',')}`)
  })

  t.test('refuses more than the queue bound', async (t) => {
    const outcomes: Array<[boolean, number]> = []
    const pusher = new DeliveryReportPusher({ delayMs: 60_000, duplicate: true }, (ok, count) => { outcomes.push([ok, count]) })
    const ids = Array.from({ length: 600_000 }, (_, index) => String(index))
    pusher.schedule('http://127.0.0.1:1/', ids)
    pusher.schedule('http://127.0.0.1:1/', ids)
    t.same(outcomes, [[false, 1_200_000]], 'the second batch would exceed the bound')
    await pusher.close()
    pusher.schedule('http://127.0.0.1:1/', ['x'])
    t.equal(outcomes.length, 1, 'ignored once closed')
  })

  t.test('compacts its queue', async (t) => {
    const receiver = await startReceiver(t)
    let sent = 0
    const pusher = new DeliveryReportPusher({ delayMs: 0 }, (ok, count) => { if (ok) sent += count })
    t.teardown(() => pusher.close())
    for (let index = 0; index < 3000; index++) pusher.schedule(`${receiver.url}/?id=#SMSID#`, [String(index)])
    await pusher.flush()
    t.equal(sent, 3000)
    t.equal(receiver.reports.length, 3000)
  })
})
