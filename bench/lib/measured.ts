import type { LoadResult } from '../procs/load.js'
import { mergeHistograms, summariseLatency, type LatencySummary } from './latency.js'

export interface Measured {
  ok: number
  failed: number
  seconds: number
  /** 2xx answers per second */
  rate: number
  latency: LatencySummary
  matched?: number
  /** CPU time the measured server used per 2xx answer it served, a lead-in's included, ms (when its process was given) */
  cpuMsPerRequest?: number
}

/** One load run, with the CPU time the measured server used during it when that was read. */
export type Stretch = LoadResult & { cpuMs?: number }

/** Stretches of one side added up: answers, seconds and CPU summed, latencies merged. */
export function combine (...results: Stretch[]): Measured {
  const ok = results.reduce((sum, r) => sum + r.ok, 0)
  const seconds = results.reduce((sum, r) => sum + r.seconds, 0)
  const failed = results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0)
  const matched = results.every((r) => r.matched === undefined) ? undefined : results.reduce((sum, r) => sum + (r.matched ?? 0), 0)
  const cpuMs = results.every((r) => r.cpuMs !== undefined) ? results.reduce((sum, r) => sum + r.cpuMs!, 0) : undefined
  // The server's CPU over a stretch served its unmeasured requests too.
  const served = ok + results.reduce((sum, r) => sum + (r.unmeasuredOk ?? 0), 0)
  return {
    ok,
    failed,
    seconds,
    rate: ok / seconds,
    latency: summariseLatency(mergeHistograms(...results.map((r) => r.latency))),
    ...(matched === undefined ? {} : { matched }),
    ...(cpuMs === undefined || served === 0 ? {} : { cpuMsPerRequest: cpuMs / served })
  }
}
