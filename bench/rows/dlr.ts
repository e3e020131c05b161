import { DLR_SECRET, startBare, startGateway, startSimulatorProcess } from '../lib/cast.js'
import { interleave, measureAlone } from '../lib/interleave.js'
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
    const signedApart = await measureAlone(startGatewayForReports, (server) => reportsTo(server, true), planMeasurement(settings.seconds, 1 / 2))
    const signedApartRate = signedApart.ok / signedApart.seconds
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
        { measure: 'each report signed apart: throughput', unit: 'req/s', subject: signedApartRate, baseline: measured.baseline.rate },
        { measure: 'each report signed apart: CPU per request', unit: 'ms', subject: signedApart.cpuMs === undefined ? Number.NaN : signedApart.cpuMs / signedApart.ok, baseline: measured.baseline.cpuMsPerRequest ?? Number.NaN }
      ],
      checks: [ratioAtLeast('throughput vs. bare route', measured.subject.rate / measured.baseline.rate, MIN_INGEST_RATIO, measured.roundRatios)],
      notes: [roundsNote(measured.roundRatios), `the main figures give every report the URL of one POST /sms (as a bulk call's reports share it: one HMAC, then remembered); "signed apart" gives each its own URL${signedApart.non2xx + signedApart.errors > 0 ? ` — ${signedApart.non2xx + signedApart.errors} failed` : ''}`]
    }
  } finally {
    await simulator.stop()
  }
}
