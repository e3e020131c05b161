import type { LoadSpec } from '../procs/load.js'
import { runLoad } from './cast.js'
import { combine, type Measured, type Stretch } from './measured.js'
import type { ServerProcess } from './processes.js'
import { alternation, ROUND_STRETCH_SECONDS, ROUND_STRETCHES, roundsFor, startBoth, type MeasurementPlan } from './rounds.js'

/** A server under load and, for CPU accounting, how to read its CPU time. */
export interface Side { load: Omit<LoadSpec, 'seconds'>, cpuMs?: () => Promise<number> }

/** A server a row measures: how to start a fresh one, and the load to put on it. */
export interface Contender {
  start (): Promise<ServerProcess>
  load (server: ServerProcess): Omit<LoadSpec, 'seconds'>
}

export interface Interleaved {
  subject: Measured
  baseline: Measured
  /** the subject's throughput over the baseline's, one ratio per round */
  roundRatios: number[]
}

/**
 * Measures a subject and its baseline in rounds, each with both servers started afresh: two
 * processes of one build, loaded alike, differ by up to 10% for as long as they run
 * (bench/README.md), so a row that started each server once measured that luck with the code.
 * Within a round both warm up, then take turns in 1-s stretches, A B B A (the next round
 * B A A B), so a drift of the shared machine weighs on both alike. Each round gives one ratio;
 * their spread is the run's own measure of how far its ratio can be trusted. 10 s a side are
 * five rounds, each 5 s of warm-up and 2 s measured a side.
 */
export async function interleave (subject: Contender, baseline: Contender, { seconds, warmupSeconds }: MeasurementPlan): Promise<Interleaved> {
  const ofSubject: Stretch[] = []
  const ofBaseline: Stretch[] = []
  const roundRatios: number[] = []
  const rounds = roundsFor(seconds)
  for (let round = 0; round < rounds; round++) {
    const [subjectServer, baselineServer] = await startBoth(subject.start, baseline.start)
    try {
      const subjectSide: Side = { load: subject.load(subjectServer), cpuMs: subjectServer.cpuMs }
      const baselineSide: Side = { load: baseline.load(baselineServer), cpuMs: baselineServer.cpuMs }
      const [first, second] = round % 2 === 0 ? [subjectSide, baselineSide] : [baselineSide, subjectSide]
      for (const side of [first, second]) await warmUp(side.load, warmupSeconds)
      const roundSubject: Stretch[] = []
      const roundBaseline: Stretch[] = []
      for (const side of alternation([first, second], ROUND_STRETCHES)) {
        (side === subjectSide ? roundSubject : roundBaseline).push(await measure(side, ROUND_STRETCH_SECONDS))
      }
      roundRatios.push(combine(...roundSubject).rate / combine(...roundBaseline).rate)
      ofSubject.push(...roundSubject)
      ofBaseline.push(...roundBaseline)
    } finally {
      await Promise.all([subjectServer.stop(), baselineServer.stop()])
    }
  }
  return { subject: combine(...ofSubject), baseline: combine(...ofBaseline), roundRatios }
}

/** A fresh server's warm-up: its load, unpaced even when the measurement is paced, as the JIT needs requests, not seconds. */
export async function warmUp (load: Side['load'], seconds: number): Promise<void> {
  await runLoad({ ...load, overallRate: undefined, seconds })
}

/** One side alone, for a row's secondary figure: a fresh server, warmed up, measured, stopped. */
export async function measureAlone (start: Contender['start'], load: Contender['load'], { seconds, warmupSeconds }: MeasurementPlan): Promise<Stretch> {
  const server = await start()
  try {
    const spec = load(server)
    await warmUp(spec, warmupSeconds)
    return await measure({ load: spec, cpuMs: server.cpuMs }, seconds)
  } finally {
    await server.stop()
  }
}

/**
 * Each stretch's load process first loads the server for this long, uncounted: a fresh process's
 * own start (connecting, compiling) otherwise slowed the first part of its stretch, the more so
 * the faster the server — against a plain Node server answering OK a fresh autocannon's first second read
 * 0.50–0.79× its second, against the gateway 0.97–1.12× (bench/README.md, fifteenth round).
 */
export const STRETCH_LEAD_IN_SECONDS = 1

/** One run of the load against one side, after its lead-in, with the CPU time the side used during both. */
export async function measure (side: Side, seconds: number): Promise<Stretch> {
  const before = await side.cpuMs?.()
  const result = await runLoad({ ...side.load, seconds, leadInSeconds: STRETCH_LEAD_IN_SECONDS })
  const after = await side.cpuMs?.()
  return before === undefined || after === undefined ? result : { ...result, cpuMs: after - before }
}
