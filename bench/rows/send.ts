import { sendBody, sendHeaders, startForwarder, startGateway, startSimulatorProcess } from '../lib/cast.js'
import { interleave } from '../lib/interleave.js'
import type { ServerProcess } from '../lib/processes.js'
import { atMost, latencyFigures, ratioAtLeast, roundsNote, type Row } from '../lib/report.js'
import { planMeasurement } from '../lib/rounds.js'
import type { BenchSettings } from '../lib/settings.js'

export const FIXED_RATE = 500
const FIXED_RATE_CONNECTIONS = 10
export const MIN_THROUGHPUT_RATIO = 0.8
export const MAX_ADDED_P99_MS = 2
const RECIPIENT = '+48500600700'

/** 1. POST /sms with one recipient through the gateway vs. a minimal forwarder, both to one zero-latency simulator. */
export async function measureSendOverhead (settings: BenchSettings): Promise<Row> {
  const simulator = await startSimulatorProcess(0)
  try {
    const request = { method: 'POST' as const, path: '/sms', headers: sendHeaders, body: sendBody(RECIPIENT), expectInBody: '"id":"' }
    const saturatedLoad = (server: ServerProcess) => ({ ...request, url: server.url, connections: settings.connections })
    const pacedLoad = (server: ServerProcess) => ({ ...request, url: server.url, connections: FIXED_RATE_CONNECTIONS, overallRate: FIXED_RATE, steady: true })
    const gateway = async () => startGateway(settings, simulator.url)
    const forwarder = async () => startForwarder(simulator.url)
    const saturated = await interleave({ start: gateway, load: saturatedLoad }, { start: forwarder, load: saturatedLoad }, planMeasurement(settings.seconds))
    const paced = await interleave({ start: gateway, load: pacedLoad }, { start: forwarder, load: pacedLoad }, planMeasurement(settings.seconds, 1 / 2))
    const ratio = saturated.subject.rate / saturated.baseline.rate
    const addedP99 = paced.subject.latency.p99 - paced.baseline.latency.p99
    const upstream = await simulator.stats()
    return {
      id: 'send',
      title: `1. Send overhead — POST /sms, 1 recipient, simulator at 0 ms (${settings.connections} connections, then a steady ${FIXED_RATE} req/s over up to ${FIXED_RATE_CONNECTIONS})`,
      subject: 'gateway',
      baseline: 'minimal forwarder',
      figures: [
        { measure: 'throughput', unit: 'req/s', subject: saturated.subject.rate, baseline: saturated.baseline.rate },
        ...latencyFigures('saturated', saturated.subject.latency, saturated.baseline.latency),
        { measure: 'saturated: server CPU per request', unit: 'ms', subject: saturated.subject.cpuMsPerRequest ?? Number.NaN, baseline: saturated.baseline.cpuMsPerRequest ?? Number.NaN },
        { measure: `at ${FIXED_RATE} req/s: rate`, unit: 'req/s', subject: paced.subject.rate, baseline: paced.baseline.rate },
        ...latencyFigures(`at ${FIXED_RATE} req/s:`, paced.subject.latency, paced.baseline.latency),
        { measure: `at ${FIXED_RATE} req/s: server CPU per request`, unit: 'ms', subject: paced.subject.cpuMsPerRequest ?? Number.NaN, baseline: paced.baseline.cpuMsPerRequest ?? Number.NaN },
        { measure: 'non-2xx or errors', unit: 'count', subject: saturated.subject.failed + paced.subject.failed, baseline: saturated.baseline.failed + paced.baseline.failed }
      ],
      checks: [
        ratioAtLeast('throughput vs. minimal forwarder', ratio, MIN_THROUGHPUT_RATIO, saturated.roundRatios),
        atMost(`p99 added at ${FIXED_RATE} req/s`, addedP99, MAX_ADDED_P99_MS, 'ms')
      ],
      notes: [
        roundsNote(saturated.roundRatios),
        `answers carrying a message id: gateway ${(saturated.subject.matched ?? 0) + (paced.subject.matched ?? 0)} of ${saturated.subject.ok + paced.subject.ok}`,
        `messages queued by the simulator over the row: ${upstream.messagesQueued}`
      ]
    }
  } finally {
    await simulator.stop()
  }
}
