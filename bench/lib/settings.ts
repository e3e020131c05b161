import { cpus } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './build.js'

/** What a run may be told through the environment; everything else is fixed so runs compare. */
export interface BenchSettings {
  /** measured seconds per side of each row's main measurement (BENCH_SECONDS, default 10; 1 is the smoke run) */
  seconds: number
  /** recipients in the bulk call (BENCH_BULK_RECIPIENTS, default 100000) */
  bulkRecipients: number
  /** connections of the throughput runs (BENCH_CONNECTIONS, default 32) */
  connections: number
  /** gateway LOG_LEVEL (BENCH_LOG_LEVEL, default info: what the gateway ships with) */
  logLevel: string
  /** cold starts per server in the start-up row (BENCH_STARTS, default 4) */
  starts: number
  /** where the results go (BENCH_RESULTS, default bench/results.json for a full run) */
  resultsPath: string | undefined
  /** write a CPU profile of each gateway process into this directory (BENCH_CPU_PROF) */
  cpuProfileDir: string | undefined
  /** os.cpus().length, printed beside every figure */
  cores: number
}

export const DEFAULT_RESULTS_PATH = join(ROOT, 'bench/results.json')

export function readSettings (env: NodeJS.ProcessEnv = process.env): BenchSettings {
  return {
    seconds: positiveNumber(env, 'BENCH_SECONDS', 10),
    bulkRecipients: positiveInteger(env, 'BENCH_BULK_RECIPIENTS', 100_000),
    connections: positiveInteger(env, 'BENCH_CONNECTIONS', 32),
    logLevel: env.BENCH_LOG_LEVEL ?? 'info',
    starts: positiveInteger(env, 'BENCH_STARTS', 4),
    resultsPath: env.BENCH_RESULTS,
    cpuProfileDir: env.BENCH_CPU_PROF,
    cores: cpus().length
  }
}

function positiveNumber (env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${JSON.stringify(text)} is invalid: set it to a number above 0`)
  return value
}

export function positiveInteger (env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = positiveNumber(env, name, fallback)
  if (!Number.isInteger(value)) throw new Error(`${name}=${value} is invalid: set it to a whole number`)
  return value
}
