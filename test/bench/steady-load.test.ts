import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { combine } from '../../bench/lib/interleave.js'
import { runSteadyLoad } from '../../bench/lib/steady-load.js'

async function startServer (t: Test, answer: (request: IncomingMessage, response: ServerResponse, index: number) => void): Promise<{ url: string, arrivals: number[] }> {
  const arrivals: number[] = []
  const server = createServer((request, response) => {
    arrivals.push(performance.now())
    request.resume()
    request.on('end', () => answer(request, response, arrivals.length - 1))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals }
}

t.test('a steady load sends one request every 1/rate s, lead-in first and uncounted', async (t) => {
  const { url, arrivals } = await startServer(t, (_request, response) => response.end('{"id":"x"}'))
  const rate = 200
  const startedAt = performance.now()
  const result = await runSteadyLoad({ url, method: 'POST', path: '/sms', body: '{}', connections: 4, rate, seconds: 0.5, leadInSeconds: 0.25, expectInBody: '"id":"' })
  t.equal(arrivals.length, 150, '50 lead-in requests and 100 measured ones reached the server')
  t.equal(result.leadInOk, 50)
  t.equal(result.ok, 100, 'only the measured ones are counted')
  t.equal(result.matched, 100)
  t.equal(Object.values(result.latency).reduce((sum, n) => sum + n, 0), 100, 'only the measured ones have a latency')
  // No request goes before it is due: the last, no sooner than 149 intervals after the start;
  // a load that sent a second's share at once would have sent it within milliseconds.
  const lastMs = arrivals.at(-1)! - startedAt
  t.ok(lastMs >= 149 * 1000 / rate, `the last came ${lastMs.toFixed(0)} ms after the start`)
  t.ok(result.seconds >= 0.49 && result.seconds < 5, `measured over ${result.seconds} s`)
})

t.test('answers other than 2xx, and failed connections, are counted apart', async (t) => {
  const { url } = await startServer(t, (_request, response, index) => {
    if (index % 3 === 1) response.writeHead(503).end()
    else if (index % 3 === 2) response.socket?.destroy()
    else response.end('ok')
  })
  const result = await runSteadyLoad({ url, method: 'GET', path: '/', connections: 2, rate: 100, seconds: 0.3, leadInSeconds: 0 })
  t.equal(result.ok + result.non2xx + result.errors + result.timeouts, 30, 'every request has an outcome')
  t.equal(result.ok, 10)
  t.equal(result.non2xx, 10)
  t.equal(result.errors, 10)
  t.equal(result.matched, 0, 'nothing to match without expectInBody')
})

t.test('the server\'s CPU per request counts the lead-in\'s answers, which it served within the stretch', async (t) => {
  const stretch = { ok: 100, unmeasuredOk: 50, cpuMs: 150, non2xx: 0, errors: 0, timeouts: 0, seconds: 1, startedAt: 0, endedAt: 1000, loadCpuMs: 10, latency: { 100: 100 } }
  const measured = combine(stretch, { ...stretch, unmeasuredOk: undefined, ok: 150 })
  t.equal(measured.ok, 250, 'throughput counts the measured answers only')
  t.equal(measured.cpuMsPerRequest, 300 / 300)
})
