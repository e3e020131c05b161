import { mkdir } from 'node:fs/promises'
import type { SimulatorStats } from '../../src/simulator/simulator.js'
import type { LoadResult, LoadSpec } from '../procs/load.js'
import type { SimulatorProcessOptions, SimulatorProcessReady } from '../procs/simulator.js'
import { builtPath, gatewayEntry, type GatewayVariant } from './build.js'
import { forkProcess, type ForkedProcess } from './ipc.js'
import { freePort } from './free-port.js'
import { startServer, type ServerProcess } from './processes.js'
import type { BenchSettings } from './settings.js'

/** The processes every row is built from, started the same way for subject and baseline. */

export const API_KEY = 'bench-key-0123456789abcdef'
export const UPSTREAM_TOKEN = 'bench-upstream-token'
export const UPSTREAM_USER = { username: 'bench', password: 'bench-password' }
export const DLR_SECRET = 'bench-dlr-secret-0123456789abcdef0123456789abcdef'
/** Far above any rate a benchmark reaches: the limiter still runs, it just never says no. */
const UNREACHABLE_RATE_LIMIT = 1_000_000_000

export interface SimulatorProcess extends ForkedProcess<SimulatorProcessReady> {
  url: string
  stats (): Promise<SimulatorStats>
}

export async function startSimulatorProcess (latencyMs: number, getStandIn = false): Promise<SimulatorProcess> {
  const options: SimulatorProcessOptions = { latencyMs, getStandIn, credentials: { token: UPSTREAM_TOKEN, ...UPSTREAM_USER } }
  const forked = await forkProcess<SimulatorProcessReady>(builtPath('bench/procs/simulator.ts'), { BENCH_SIMULATOR: JSON.stringify(options) })
  return { ...forked, url: forked.ready.url, stats: async () => forked.ask<SimulatorStats>('stats') }
}

/** The gateway as operators run it: `node dist/server.js`, configured through its environment. */
export async function startGateway (settings: BenchSettings, upstreamUrl: string, env: Record<string, string> = {}, variant: GatewayVariant = 'as-is'): Promise<ServerProcess> {
  return startGatewayAt(gatewayEntry(variant), settings, upstreamUrl, env)
}

/** The same, from a given bundle's `server.js` (bench/compare.ts runs another commit's). */
export async function startGatewayAt (entry: string, settings: BenchSettings, upstreamUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort()
  const execArgv = settings.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', settings.cpuProfileDir]
  if (settings.cpuProfileDir !== undefined) await mkdir(settings.cpuProfileDir, { recursive: true })
  return startServer({
    name: 'gateway',
    command: process.execPath,
    args: [...execArgv, entry],
    port,
    env: {
      ENV_FILE: '/dev/null',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: settings.logLevel,
      SERWERSMS_API_URL: upstreamUrl,
      SERWERSMS_TOKEN: UPSTREAM_TOKEN,
      API_KEYS: `bench:${API_KEY}`,
      RATE_LIMIT_MAX: String(UNREACHABLE_RATE_LIMIT),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DLR_SECRET,
      ...env
    }
  })
}

export async function startForwarder (upstreamUrl: string): Promise<ServerProcess> {
  const port = await freePort()
  return startServer({
    name: 'minimal forwarder',
    command: process.execPath,
    args: [builtPath('bench/procs/forwarder.ts')],
    port,
    env: { BENCH_PORT: String(port), BENCH_UPSTREAM_URL: upstreamUrl, BENCH_UPSTREAM_TOKEN: UPSTREAM_TOKEN }
  })
}

export async function startBare (): Promise<ServerProcess> {
  const port = await freePort()
  return startServer({ name: 'bare fastify', command: process.execPath, args: [builtPath('bench/procs/bare.ts')], port, env: { BENCH_PORT: String(port) } })
}

export async function runLoad (spec: LoadSpec): Promise<LoadResult> {
  const load = await forkProcess<LoadResult>(builtPath('bench/procs/load.ts'), { BENCH_LOAD: JSON.stringify(spec) })
  await load.stop()
  return load.ready
}

export const sendHeaders = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }

export function sendBody (to: string | string[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ to, text: 'Benchmark message', ...extra })
}
