import type { ClientLoadResult, ClientLoadSpec } from '../procs/client-load.js'
import { builtPath } from '../lib/build.js'
import { forkProcess } from '../lib/ipc.js'
import { sendBody, sendHeaders, startGateway, startSimulatorProcess, UPSTREAM_TOKEN } from '../lib/cast.js'
import { interleave } from '../lib/interleave.js'
import type { ServerProcess } from '../lib/processes.js'
import { clientRuns, planMeasurement } from '../lib/rounds.js'
import type { Row } from '../lib/report.js'
import type { BenchSettings } from '../lib/settings.js'

const CONCURRENCY = 32

/**
 * 6. got vs. undici in the same run, as the issue asks once got shows up in the profile: the
 * upstream client alone (the former got client in bench/candidates vs. the gateway's undici one, each in
 * a process of its own), then the whole gateway built both ways, in rounds (bench/lib/interleave.ts),
 * against one simulator.
 */
export async function measureUpstreamClients (settings: BenchSettings): Promise<Row> {
  const simulator = await startSimulatorProcess(0)
  try {
    const quarter = settings.seconds / 4
    const run = async (client: ClientLoadSpec['client'], warmupSeconds: number) => {
      const spec: ClientLoadSpec = { client, upstreamUrl: simulator.url, token: UPSTREAM_TOKEN, concurrency: CONCURRENCY, seconds: quarter, warmupSeconds }
      const load = await forkProcess<ClientLoadResult>(builtPath('bench/procs/client-load.ts'), { BENCH_CLIENT_LOAD: JSON.stringify(spec) })
      await load.stop()
      return load.ready
    }
    const alone: Record<ClientLoadSpec['client'], ClientLoadResult> = { got: { ok: 0, failed: 0, seconds: 0, cpuMs: 0 }, undici: { ok: 0, failed: 0, seconds: 0, cpuMs: 0 } }
    for (const { client, warmupSeconds } of clientRuns(settings.seconds)) {
      const result = await run(client, warmupSeconds)
      const total = alone[client]
      alone[client] = { ok: total.ok + result.ok, failed: total.failed + result.failed, seconds: total.seconds + result.seconds, cpuMs: total.cpuMs + result.cpuMs }
    }
    const { got, undici } = alone

    const request = { method: 'POST' as const, path: '/sms', headers: sendHeaders, body: sendBody('+48500600700'), connections: settings.connections }
    const sendTo = (server: ServerProcess) => ({ ...request, url: server.url })
    const gateways = await interleave(
      { start: async () => startGateway(settings, simulator.url, {}, 'got-client'), load: sendTo },
      { start: async () => startGateway(settings, simulator.url), load: sendTo },
      planMeasurement(settings.seconds, 1 / 2)
    )
    return {
      id: 'clients',
      title: `6. got vs. undici — the upstream client alone (${CONCURRENCY} in flight), then POST /sms through the gateway built with each (informative, no target)`,
      subject: 'got 14 (bench/candidates, the former client)',
      baseline: 'undici 7 (src/serwersms/client.ts)',
      figures: [
        { measure: 'client alone: throughput', unit: 'req/s', subject: got.ok / got.seconds, baseline: undici.ok / undici.seconds },
        { measure: 'client alone: CPU per request', unit: 'ms', subject: got.cpuMs / got.ok, baseline: undici.cpuMs / undici.ok },
        { measure: 'gateway: throughput', unit: 'req/s', subject: gateways.subject.rate, baseline: gateways.baseline.rate },
        { measure: 'gateway: p99', unit: 'ms', subject: gateways.subject.latency.p99, baseline: gateways.baseline.latency.p99 },
        { measure: 'gateway: server CPU per request', unit: 'ms', subject: gateways.subject.cpuMsPerRequest ?? Number.NaN, baseline: gateways.baseline.cpuMsPerRequest ?? Number.NaN },
        { measure: 'failed', unit: 'count', subject: got.failed + gateways.subject.failed, baseline: undici.failed + gateways.baseline.failed }
      ],
      checks: [],
      notes: []
    }
  } finally {
    await simulator.stop()
  }
}
