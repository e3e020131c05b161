import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { combine } from '../../bench/lib/measured.js'
import { runSteadyLoad } from '../../bench/lib/steady-load.js'

async function startServer (t: Test, answer: (request: IncomingMessage, response: ServerResponse, index: number) => void): Promise<{ url: string, arrivals: number[] }> {
  const arrivals: number[] = []
  const server = createServer((request, response) => {
    const index = arrivals.push(performance.now()) - 1
    request.resume()
    request.on('end', () => answer(request, response, index))
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
  // No request goes before it is due, so the i-th to arrive came i intervals after the start at
  // the soonest; a load that sent a second's share at once would have sent it within milliseconds.
  const early = arrivals.findIndex((at, i) => at - startedAt < i * 1000 / rate)
  t.equal(early, -1, 'none came before its time')
  t.ok(arrivals.at(-1)! - startedAt >= 149 * 1000 / rate, `the last came ${(arrivals.at(-1)! - startedAt).toFixed(0)} ms after the start`)
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

t.test('an answer that does not come within the deadline is a timeout, waiting for a connection included', async (t) => {
  const { url, arrivals } = await startServer(t, () => { /* never answers */ })
  const result = await runSteadyLoad({ url, method: 'GET', path: '/', connections: 1, rate: 20, seconds: 0.4, leadInSeconds: 0, timeoutMs: 300 })
  t.equal(result.timeouts, 8, 'the one sent, and the seven queued behind it for the one connection')
  t.equal(result.ok + result.errors + result.non2xx, 0)
  t.ok(arrivals.length >= 1, 'the server saw the first')
  // Each request's deadline runs from its own send (the last at 350 ms), so the run ends near
  // 650 ms; deadlines that started only on a socket would take one after another, 8 × 300 ms.
  t.ok(result.seconds < 1.8, `the run ended after ${result.seconds} s`)
})

t.test('the server\'s CPU per request counts the lead-in\'s answers, which it served within the stretch', async (t) => {
  const machine = { busyMs: 0, stolenMs: 0 }
  const stretch = { ok: 100, unmeasuredOk: 50, cpuMs: 150, non2xx: 0, errors: 0, timeouts: 0, seconds: 1, startedAt: 0, endedAt: 1000, loadCpuMs: 10, machineAtStart: machine, machineAtEnd: machine, latency: { 100: 100 } }
  const measured = combine(stretch, { ...stretch, unmeasuredOk: undefined, ok: 150 })
  t.equal(measured.ok, 250, 'throughput counts the measured answers only')
  t.equal(measured.cpuMsPerRequest, 300 / 300)
})
