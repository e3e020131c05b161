import type { LoadResult, LoadSpec } from '../procs/load.js'
import { runLoad } from './cast.js'
import { mergeHistograms, summariseLatency, type LatencySummary } from './latency.js'

export interface Measured {
  ok: number
  failed: number
  seconds: number
  /** 2xx answers per second */
  rate: number
  latency: LatencySummary
  matched?: number
  /** CPU time the measured server used per 2xx answer, ms (when its process was given) */
  cpuMsPerRequest?: number
}

/** A server under load and, for CPU accounting, how to read its CPU time. */
export interface Side { load: Omit<LoadSpec, 'seconds'>, cpuMs?: () => Promise<number> }

/** Warm-up before a subject's first measured half: enough for the JIT, bounded for the smoke run. */
export function warmupSecondsFor (seconds: number): number {
  return Math.min(2, Math.max(0.5, seconds / 5))
}

/**
 * Measures a subject and its baseline in the order A B B A, each half `seconds / 2` long, so a
 * drift of the shared machine during the run (another process waking up) weighs on both alike.
 */
export async function interleave (subject: Side, baseline: Side, seconds: number): Promise<{ subject: Measured, baseline: Measured }> {
  const half = seconds / 2
  const warmupSeconds = warmupSecondsFor(seconds)
  await runLoad({ ...subject.load, seconds: warmupSeconds })
  await runLoad({ ...baseline.load, seconds: warmupSeconds })
  const a1 = await measure(subject, half)
  const b1 = await measure(baseline, half)
  const b2 = await measure(baseline, half)
  const a2 = await measure(subject, half)
  return { subject: combine(a1, a2), baseline: combine(b1, b2) }
}

/** One run of the load against one side, with the CPU time the side used during it. */
export async function measure (side: Side, seconds: number): Promise<LoadResult & { cpuMs?: number }> {
  const before = await side.cpuMs?.()
  const result = await runLoad({ ...side.load, seconds })
  const after = await side.cpuMs?.()
  return before === undefined || after === undefined ? result : { ...result, cpuMs: after - before }
}

export function combine (...results: Array<LoadResult & { cpuMs?: number }>): Measured {
  const ok = results.reduce((sum, r) => sum + r.ok, 0)
  const seconds = results.reduce((sum, r) => sum + r.seconds, 0)
  const failed = results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0)
  const matched = results.every((r) => r.matched === undefined) ? undefined : results.reduce((sum, r) => sum + (r.matched ?? 0), 0)
  const cpuMs = results.every((r) => r.cpuMs !== undefined) ? results.reduce((sum, r) => sum + r.cpuMs!, 0) : undefined
  return {
    ok,
    failed,
    seconds,
    rate: ok / seconds,
    latency: summariseLatency(mergeHistograms(...results.map((r) => r.latency))),
    ...(matched === undefined ? {} : { matched }),
    ...(cpuMs === undefined || ok === 0 ? {} : { cpuMsPerRequest: cpuMs / ok })
  }
}
