import { DLR_SECRET, startBare, startGateway, startSimulatorProcess } from '../lib/cast.js'
import { interleave, measureAlone } from '../lib/interleave.js'
import { combine } from '../lib/measured.js'
import type { ServerProcess } from '../lib/processes.js'
import { latencyFigures, ratioAtLeast, roundsNote, type Row } from '../lib/report.js'
import { planMeasurement } from '../lib/rounds.js'
import type { BenchSettings } from '../lib/settings.js'

export const MIN_INGEST_RATIO = 0.8

/** 2. GET /dlr with valid signed URLs (a new message id each) vs. a bare fastify route answering OK. */
export async function measureDeliveryReportIngest (settings: BenchSettings): Promise<Row> {
  const simulator = await startSimulatorProcess(0)
  // Both get the same signed paths; only the gateway checks them.
  const request = { method: 'GET' as const, path: '/dlr', connections: settings.connections, expectInBody: 'OK' }
  const reportsTo = (server: ServerProcess, signEach = false) =>
    ({ ...request, url: server.url, deliveryReports: { publicUrl: server.url, secret: DLR_SECRET, signEach } })
  const startGatewayForReports = async () => startGateway(settings, simulator.url)
  try {
    const measured = await interleave({ start: startGatewayForReports, load: reportsTo }, { start: startBare, load: reportsTo }, planMeasurement(settings.seconds))
    // The worst case beside it: every report on a URL signed for it alone, so the gateway computes
    // an HMAC for each (reports of different POST /sms calls arriving interleaved).
    // combine() divides its CPU by every report it served, the lead-in's included.
    const signedApart = combine(await measureAlone(startGatewayForReports, (server) => reportsTo(server, true), planMeasurement(settings.seconds, 1 / 2)))
    return {
      id: 'dlr',
      title: `2. Delivery-report ingest — GET /dlr, signed URLs, a new message id each (${settings.connections} connections)`,
      subject: 'gateway',
      baseline: 'bare fastify route',
      figures: [
        { measure: 'throughput', unit: 'req/s', subject: measured.subject.rate, baseline: measured.baseline.rate },
        ...latencyFigures('latency', measured.subject.latency, measured.baseline.latency),
        { measure: 'server CPU per request', unit: 'ms', subject: measured.subject.cpuMsPerRequest ?? Number.NaN, baseline: measured.baseline.cpuMsPerRequest ?? Number.NaN },
        { measure: 'non-2xx or errors', unit: 'count', subject: measured.subject.failed, baseline: measured.baseline.failed },
        { measure: 'each report signed apart: throughput', unit: 'req/s', subject: signedApart.rate, baseline: measured.baseline.rate },
        { measure: 'each report signed apart: CPU per request', unit: 'ms', subject: signedApart.cpuMsPerRequest ?? Number.NaN, baseline: measured.baseline.cpuMsPerRequest ?? Number.NaN }
      ],
      checks: [ratioAtLeast('throughput vs. bare route', measured.subject.rate / measured.baseline.rate, MIN_INGEST_RATIO, measured.roundRatios)],
      notes: [roundsNote(measured.roundRatios), `the main figures give every report the URL of one POST /sms (as a bulk call's reports share it: one HMAC, then remembered); "signed apart" gives each its own URL${signedApart.failed > 0 ? ` — ${signedApart.failed} failed` : ''}`]
    }
  } finally {
    await simulator.stop()
  }
}
