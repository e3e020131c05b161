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

/** How long one measured stretch runs, about: the machine's own drift comes in spells of a few seconds. */
export const STRETCH_SECONDS = 2.5

/** Stretches per side: an even number (each A B pair is followed by B A), two at least. */
export function stretchesFor (seconds: number): number {
  return Math.max(2, 2 * Math.floor(seconds / (2 * STRETCH_SECONDS)))
}

/**
 * Seconds of one stretch, whole: autocannon ends a run, and refills a fixed rate's budget, on a
 * one-second tick, so a run asked for 2.5 s lasts 3 and a fixed rate is only kept over whole
 * seconds. Said here rather than left to autocannon: 10 s a side are four stretches of 3 s.
 */
export function stretchSecondsFor (seconds: number, stretches: number): number {
  return Math.max(1, Math.ceil(seconds / stretches))
}

/** The order of the turns, `stretches` for each side: A B B A, A B B A… */
export function alternation<Side> (first: Side, second: Side, stretches: number): Side[] {
  const turns: Side[] = []
  for (let pair = 0; pair < stretches; pair++) turns.push(...(pair % 2 === 0 ? [first, second] : [second, first]))
  return turns
}

/**
 * Measures a subject and its baseline in alternation — A B B A, repeated: 10 s per side are four
 * stretches of 3 s each, A B B A A B B A — so a drift of the shared machine during the run (another
 * process waking up, a neighbour on the host) weighs on both alike. With one 5-s half per side
 * and turn, one bad spell could move a ratio by 0.2 (bench/README.md).
 */
export async function interleave (subject: Side, baseline: Side, seconds: number): Promise<{ subject: Measured, baseline: Measured }> {
  const stretches = stretchesFor(seconds)
  const stretch = stretchSecondsFor(seconds, stretches)
  const warmupSeconds = warmupSecondsFor(seconds)
  await runLoad({ ...subject.load, seconds: warmupSeconds })
  await runLoad({ ...baseline.load, seconds: warmupSeconds })
  const ofSubject: Array<LoadResult & { cpuMs?: number }> = []
  const ofBaseline: Array<LoadResult & { cpuMs?: number }> = []
  for (const side of alternation(subject, baseline, stretches)) (side === subject ? ofSubject : ofBaseline).push(await measure(side, stretch))
  return { subject: combine(...ofSubject), baseline: combine(...ofBaseline) }
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
