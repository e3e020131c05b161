import { request } from 'undici'
import type { DirectBulkResult, DirectBulkSpec } from '../procs/direct-bulk.js'
import { builtPath } from '../lib/build.js'
import { runLoad, sendBody, sendHeaders, startGateway, startSimulatorProcess, UPSTREAM_TOKEN, type SimulatorProcess } from '../lib/cast.js'
import { combine } from '../lib/measured.js'
import { forkProcess } from '../lib/ipc.js'
import type { ServerProcess } from '../lib/processes.js'
import { bulkRecipients } from '../lib/recipients.js'
import { atMost, type Row } from '../lib/report.js'
import { warmupSecondsFor } from '../lib/rounds.js'
import type { BenchSettings } from '../lib/settings.js'

export const LATENCY_MS = 50
export const BATCH_SIZE = 100
export const CONCURRENCY = 4
export const MAX_RECIPIENTS = 100_000
export const MAX_IDEAL_RATIO = 1.1
export const MAX_PEAK_RSS_MB = 200
const WARMUP_RECIPIENTS = 2000
/** Between another caller's requests while a bulk call runs. */
const PING_GAP_MS = 5
const TEXT = 'Benchmark message'
/**
 * Memory is read in MiB (2^20 bytes, as ps, top and /proc count it), and the targets in
 * "MB" are read as MiB too; in SI megabytes (10^6 bytes) every figure is 1.049× larger.
 */
const MB = 1024 * 1024

/**
 * 3. One call with all recipients against a simulator answering in 50 ms, vs. the ideal
 * ceil(batches / concurrency) × 50 ms — both as that formula and as measured in this run by a
 * direct client — then the same recipients one per request, to show what batching saves.
 */
export async function measureBulk (settings: BenchSettings): Promise<Row> {
  const recipients = Math.min(settings.bulkRecipients, MAX_RECIPIENTS)
  const simulator = await startSimulatorProcess(LATENCY_MS)
  const gateway = await startGateway(settings, simulator.url, {
    SMS_MAX_RECIPIENTS: String(MAX_RECIPIENTS),
    SMS_BATCH_SIZE: String(BATCH_SIZE),
    SMS_UPSTREAM_CONCURRENCY: String(CONCURRENCY)
  })
  try {
    const batches = Math.ceil(recipients / BATCH_SIZE)
    const formulaMs = Math.ceil(batches / CONCURRENCY) * LATENCY_MS
    const direct = await sendDirect(simulator, recipients)
    await sendBulk(gateway, simulator, WARMUP_RECIPIENTS)
    const bulk = await sendBulk(gateway, simulator, recipients)
    const memory = await gateway.memory()
    // Another call of the same size, with another caller's requests alongside: they would slow the
    // one measured above a little, so they come with this one. Its answer is not parsed: that would
    // hold this process's event loop, which the other caller's requests share.
    const secondBody = sendBody(bulkRecipients(recipients))
    const waits = await callerWaitsDuring(gateway, async () => {
      const response = await request(`${gateway.url}/sms`, { method: 'POST', headers: sendHeaders, body: secondBody })
      await response.body.dump()
      if (response.statusCode !== 200) throw new Error(`the second bulk call answered ${response.statusCode}`)
    })

    const single = combine(await runLoad({
      url: gateway.url,
      method: 'POST',
      path: '/sms',
      headers: sendHeaders,
      body: sendBody('+48500600700'),
      connections: CONCURRENCY,
      seconds: settings.seconds / 2,
      leadInSeconds: warmupSecondsFor(settings.seconds)
    }))
    const singleProjectedMs = recipients / single.rate * 1000

    return {
      id: 'bulk',
      title: `3. Bulk — ${recipients.toLocaleString('en-US')} recipients in one call, simulator at ${LATENCY_MS} ms, batches of ${BATCH_SIZE}, ${CONCURRENCY} in flight`,
      subject: 'gateway',
      baseline: 'ideal (direct client)',
      figures: [
        { measure: 'wall time', unit: 'ms', subject: bulk.ms, baseline: direct.ms },
        { measure: `wall time vs. formula ceil(${batches}/${CONCURRENCY}) × ${LATENCY_MS} ms`, unit: 'ms', subject: bulk.ms, baseline: formulaMs },
        { measure: 'upstream requests', unit: 'count', subject: bulk.upstreamRequests, baseline: direct.requests },
        { measure: 'recipients queued', unit: 'count', subject: bulk.queued, baseline: direct.queued },
        { measure: 'gateway peak RSS', unit: 'MiB', subject: memory.peakRss / MB },
        { measure: `another caller's longest wait during a second such call (GET /healthz, ${PING_GAP_MS} ms apart)`, unit: 'ms', subject: waits.longestMs },
        { measure: 'another caller\'s median wait meanwhile', unit: 'ms', subject: waits.medianMs },
        { measure: `one per request (${CONCURRENCY} connections): rate`, unit: 'req/s', subject: single.rate },
        { measure: `one per request: projected for ${recipients.toLocaleString('en-US')}`, unit: 'ms', subject: singleProjectedMs, baseline: bulk.ms },
        { measure: 'one per request: upstream requests', unit: 'count', subject: recipients, baseline: bulk.upstreamRequests }
      ],
      checks: [
        atMost('wall time vs. measured ideal', bulk.ms / direct.ms, MAX_IDEAL_RATIO, '×'),
        atMost('gateway peak RSS', memory.peakRss / MB, MAX_PEAK_RSS_MB, 'MiB')
      ],
      notes: [
        `the ideal is measured: the same ${batches} batches sent straight to the simulator, ${CONCURRENCY} at a time, by a plain undici client; the formula ignores each request's own cost`,
        `peak RSS is the gateway process's VmHWM after the call (it includes start-up and the ${WARMUP_RECIPIENTS}-recipient warm-up call)`,
        `another caller's wait: ${waits.count} GET /healthz one after another, ${PING_GAP_MS} ms apart, for as long as a second call of ${recipients.toLocaleString('en-US')} recipients ran; its longest against its median shows how long the call held the gateway's event loop at once`,
        `one per request ran ${single.seconds.toFixed(1)} s (${single.ok} sends); its time for all recipients is projected from that rate, batching saves ${(singleProjectedMs / bulk.ms).toFixed(0)}×`
      ]
    }
  } finally {
    await Promise.all([gateway.stop(), simulator.stop()])
  }
}

async function sendDirect (simulator: SimulatorProcess, recipients: number): Promise<DirectBulkResult> {
  const spec: DirectBulkSpec = { upstreamUrl: simulator.url, token: UPSTREAM_TOKEN, recipients, batchSize: BATCH_SIZE, concurrency: CONCURRENCY, text: TEXT }
  const direct = await forkProcess<DirectBulkResult>(builtPath('bench/procs/direct-bulk.ts'), { BENCH_DIRECT_BULK: JSON.stringify(spec) })
  await direct.stop()
  return direct.ready
}

/** How long another caller's requests wait while a call runs: its longest and its median, in ms. */
async function callerWaitsDuring (gateway: ServerProcess, call: () => Promise<void>): Promise<{ longestMs: number, medianMs: number, count: number }> {
  const waits: number[] = []
  const state = { running: true }
  const pinging = (async () => {
    while (state.running) {
      const started = performance.now()
      const response = await request(`${gateway.url}/healthz`)
      await response.body.dump()
      waits.push(performance.now() - started)
      await new Promise((resolve) => setTimeout(resolve, PING_GAP_MS))
    }
  })()
  try {
    await call()
  } finally {
    state.running = false
    await pinging
  }
  const sorted = waits.sort((a, b) => a - b)
  return { longestMs: sorted.at(-1) ?? 0, medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0, count: sorted.length }
}

async function sendBulk (gateway: ServerProcess, simulator: SimulatorProcess, recipients: number): Promise<{ ms: number, upstreamRequests: number, queued: number }> {
  const body = sendBody(bulkRecipients(recipients))
  const before = await simulator.stats()
  const started = performance.now()
  const response = await request(`${gateway.url}/sms`, { method: 'POST', headers: sendHeaders, body })
  const answer = await response.body.json() as { queued?: number, detail?: string }
  const ms = performance.now() - started
  if (response.statusCode !== 200) throw new Error(`the bulk call answered ${response.statusCode}: ${answer.detail ?? ''}`)
  const after = await simulator.stats()
  return { ms, upstreamRequests: after.sendRequests - before.sendRequests, queued: answer.queued ?? 0 }
}
