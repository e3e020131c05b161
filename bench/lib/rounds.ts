import type { ClientLoadSpec } from '../procs/client-load.js'
/** The plan of a measurement in turns: which side when, for how long, how a round's servers start. Plain functions, no processes of their own. */

/**
 * The order of the turns, `stretches` for each side, every other pass reversed: A B B A, A B B A…;
 * with three sides A B C C B A, so each side's stretches sit as early in the run as late.
 */
export function alternation<Side> (sides: readonly Side[], stretches: number): Side[] {
  const turns: Side[] = []
  const reversed = [...sides].reverse()
  for (let pass = 0; pass < stretches; pass++) turns.push(...(pass % 2 === 0 ? sides : reversed))
  return turns
}

/** Each side's measured seconds in one round: two 1-s stretches, A B B A. */
export const ROUND_STRETCHES = 2
export const ROUND_STRETCH_SECONDS = 1
/**
 * A fresh process's warm-up before it is measured (each round's servers, and the other rows'
 * gateways and clients). A gateway just started answers its first second of sends at a fifth of
 * its later rate and needs 3–4 s of saturating load to reach it; the baselines need about 2
 * (bench/README.md). 5 s in a full run; shorter runs get shorter warm-ups, so the smoke run stays
 * short.
 */
export function warmupSecondsFor (seconds: number): number {
  return Math.min(5, Math.max(1, Math.round(seconds / 2)))
}

/** A measurement of a row: seconds measured a side, and the warm-up of each fresh process before it. */
export interface MeasurementPlan { seconds: number, warmupSeconds: number }

/**
 * A measurement of `share` of the run's seconds a side. The warm-up follows the run, not the
 * measurement: a half-length measurement's fresh gateway needs its 3–4 s all the same.
 */
export function planMeasurement (runSeconds: number, share = 1): MeasurementPlan {
  return { seconds: runSeconds * share, warmupSeconds: warmupSecondsFor(runSeconds) }
}

/** Rounds for `seconds` a side, at least one: 10 s a side are five rounds of A B B A. */
export function roundsFor (seconds: number): number {
  return Math.max(1, Math.ceil(seconds / (ROUND_STRETCHES * ROUND_STRETCH_SECONDS)))
}

/** Starts a round's two servers at once; if one fails to start, the other is stopped before the error is passed on. */
export async function startBoth<Server extends { stop (): Promise<void> }> (startFirst: () => Promise<Server>, startSecond: () => Promise<Server>): Promise<[Server, Server]> {
  const [first, second] = await Promise.allSettled([startFirst(), startSecond()])
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value]
  await Promise.all([first, second].map(async (started) => { if (started.status === 'fulfilled') await started.value.stop() }))
  throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason
}

export interface ClientRun { client: ClientLoadSpec['client'], warmupSeconds: number }

/**
 * Row 6's clients alone, got undici undici got. Every run is a process of its own, so every run
 * gets the run's warm-up: a second run of a client is as cold as its first. (Here, not in the row,
 * so that a test reaches it without loading the processes the row starts.)
 */
export function clientRuns (runSeconds: number): ClientRun[] {
  const warmupSeconds = warmupSecondsFor(runSeconds)
  return alternation<ClientLoadSpec['client']>(['got', 'undici'], 2).map((client) => ({ client, warmupSeconds }))
}
