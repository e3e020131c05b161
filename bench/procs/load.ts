import autocannon, { type Options } from 'autocannon'
import { readJsonEnv, reportToParent } from '../lib/child.js'
import { recordLatency, type LatencyHistogram } from '../lib/latency.js'
import { deliveryReportPaths, type DeliveryReportSpec } from '../lib/report-paths.js'
import { machineCpuOf, type MachineCpu } from '../lib/cpu.js'
import { runSteadyLoad } from '../lib/steady-load.js'

/**
 * The load generator, in a process of its own so it neither shares an event loop with nor
 * steals timer precision from the runner. Runs an optional lead-in, then the measured run, and
 * reports once over IPC.
 */
export interface LoadSpec {
  url: string
  method: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
  connections: number
  seconds: number
  /**
   * requests at the same load before the measured ones, in the same process and not counted (their
   * 2xx answers are reported as unmeasuredOk): a fresh load process's own start otherwise weighs on
   * the first part of its run. autocannon: a run of its own, in whole seconds; steady: over the
   * same pool.
   */
  leadInSeconds?: number
  /** fixed arrival rate over all connections; unset: as fast as the server answers */
  overallRate?: number
  /** with overallRate: one request every 1/rate s (lib/steady-load.ts), not autocannon's per-second budgets */
  steady?: boolean
  /**
   * give every request its own delivery-report query (unique message id), on one signed URL as
   * the reports of one POST /sms carry, or with `signEach` on a URL signed for it alone
   */
  deliveryReports?: DeliveryReportSpec
  /**
   * count answers whose body contains this text, whatever their status (the rows' texts, a
   * message id or `OK`, come in 2xx answers only)
   */
  expectInBody?: string
}

export interface LoadResult {
  /** 2xx answers */
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  seconds: number
  startedAt: number
  endedAt: number
  /** the load generator's own CPU time over the run (user + system), ms */
  loadCpuMs: number
  /** the whole machine's CPU at startedAt and at endedAt (a steady load's: its lead-in included) */
  machineAtStart: MachineCpu
  machineAtEnd: MachineCpu
  /** 2xx answers to the lead-in's requests: not measured, but served */
  unmeasuredOk?: number
  matched?: number
  latency: LatencyHistogram
}

const spec = readJsonEnv<LoadSpec>('BENCH_LOAD')
reportToParent<LoadResult>(await run(spec), { last: true })

async function run (load: LoadSpec): Promise<LoadResult> {
  if (load.steady === true && load.overallRate !== undefined) {
    if (load.deliveryReports !== undefined) throw new Error('a steady load sends one fixed request')
    const rate = load.overallRate
    const { result: { matched, leadInOk, ...result }, ...cpu } = await withCpu(async () => runSteadyLoad({ ...load, rate, leadInSeconds: load.leadInSeconds ?? 0 }))
    return { ...result, ...cpu, unmeasuredOk: leadInOk, ...(load.expectInBody === undefined ? {} : { matched }) }
  }
  // One sequence of report paths for the lead-in and the measured run, so no message id repeats.
  const nextPath = load.deliveryReports === undefined ? undefined : deliveryReportPaths(load.deliveryReports)
  if (load.leadInSeconds === undefined || load.leadInSeconds <= 0) return runAutocannon(load, nextPath)
  const leadIn = await runAutocannon({ ...load, seconds: load.leadInSeconds }, nextPath)
  return { ...await runAutocannon(load, nextPath), unmeasuredOk: leadIn.ok }
}

/** Runs a load with the load generator's own CPU time, and the whole machine's, read around it. */
async function withCpu<T> (work: () => Promise<T>): Promise<{ result: T, loadCpuMs: number, machineAtStart: MachineCpu, machineAtEnd: MachineCpu }> {
  const machineAtStart = await machineCpuOf()
  const cpuAtStart = process.cpuUsage()
  const result = await work()
  const cpu = process.cpuUsage(cpuAtStart)
  return { result, loadCpuMs: (cpu.user + cpu.system) / 1000, machineAtStart, machineAtEnd: await machineCpuOf() }
}

async function runAutocannon (load: LoadSpec, nextPath: (() => string) | undefined): Promise<LoadResult> {
  const latency: LatencyHistogram = {}
  let matched = 0
  const expected = load.expectInBody
  const options = {
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    pipelining: 1,
    ...(load.overallRate === undefined ? {} : { overallRate: load.overallRate }),
    requests: [{
      method: load.method,
      path: load.path,
      ...(load.headers === undefined ? {} : { headers: load.headers }),
      ...(load.body === undefined ? {} : { body: load.body }),
      ...(nextPath === undefined ? {} : { setupRequest: (request: { path: string }) => ({ ...request, path: nextPath() }) })
    }],
    // verifyBody, not a request's onResponse: for onResponse autocannon builds an object of every
    // answer's headers, load-generator CPU taken from the machine the measured side runs on
    // (bench/README.md, fifteenth round).
    ...(expected === undefined
      ? {}
      : { verifyBody: (body: string) => { const found = body.includes(expected); if (found) matched++; return found } })
  } satisfies Options
  const { result: { counts, startedAt, endedAt }, ...cpu } = await withCpu(async () => {
    const startedAt = Date.now()
    const instance = autocannon(options)
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
      if (statusCode >= 200 && statusCode < 300) recordLatency(latency, ms)
    })
    const counts = await instance
    return { counts, startedAt, endedAt: Date.now() }
  })
  return {
    ok: counts['2xx'],
    non2xx: counts.non2xx,
    errors: counts.errors,
    timeouts: counts.timeouts,
    seconds: (endedAt - startedAt) / 1000,
    startedAt,
    endedAt,
    ...cpu,
    ...(expected === undefined ? {} : { matched }),
    latency
  }
}
