import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { buildForBench, gatewayEntry, makeRunnable, ROOT, WORK_DIR } from './lib/build.js'
import { DLR_SECRET, runLoad, sendBody, sendHeaders, startGatewayAt, startSimulatorProcess } from './lib/cast.js'
import { measure } from './lib/interleave.js'
import { combine } from './lib/measured.js'
import { summarisePaired, type PairedSummary } from './lib/paired.js'
import type { ServerProcess } from './lib/processes.js'
import { positiveInteger, readSettings } from './lib/settings.js'
import type { LoadSpec } from './procs/load.js'

/**
 * `npm run bench:compare -- [git ref] [send|dlr]`: what a change does to the gateway's CPU per
 * request, against a commit (HEAD by default).
 *
 * The rows of `npm run bench` compare the gateway with a baseline in alternation, and on a shared
 * 2-core machine a ratio still moves by ±0.1 from run to run: far more than most changes. Here the
 * working tree's gateway and the commit's run at the same time, each under the same fixed rate
 * from its own load generator, against one simulator, so whatever the machine does in a round it
 * does to both; every round gives one ratio of CPU per request (working tree / commit). The rate
 * stays below saturation: CPU per request is then a property of the code, not of who got the core.
 *
 * Two gateways of the same build, started together, kept a difference of up to 6% through 16
 * rounds (bench/README.md), each pair of processes differently. So both are started afresh
 * several times, in turns which one first, and the interval is taken over the starts, not the
 * rounds.
 */
const run = promisify(execFile)
const ROWS = ['send', 'dlr'] as const
type RowId = typeof ROWS[number]
/**
 * Below saturation on the slow hosts seen since the twelfth round, where a send costs ~0.3 ms of
 * CPU and a report ~0.15 ms: two gateways and their two load generators share 2 cores. (3,000 and
 * 6,000, the rates of faster hosts, saturated them.)
 */
const DEFAULT_RATE: Record<RowId, number> = { send: 1200, dlr: 2500 }
const CONNECTIONS = 16
/** After 3 s of load a fresh gateway's CPU per report was still 2–16% above its later rounds' (bench/README.md, sixteenth round). */
const WARMUP_SECONDS = 5

const [ref = 'HEAD', rowArgument = 'send'] = process.argv.slice(2)
if (!(ROWS as readonly string[]).includes(rowArgument)) {
  process.stderr.write(`bench:compare: unknown row ${rowArgument}; rows are ${ROWS.join(', ')}\n`)
  process.exit(64)
}
const row = rowArgument as RowId
const starts = positiveInteger(process.env, 'BENCH_COMPARE_STARTS', 6)
const rounds = positiveInteger(process.env, 'BENCH_COMPARE_ROUNDS', 3)
// Whole seconds: autocannon ends a run, and refills a fixed rate's budget, on a one-second tick.
const seconds = positiveInteger(process.env, 'BENCH_COMPARE_SECONDS', 4)
const rate = positiveInteger(process.env, 'BENCH_COMPARE_RATE', DEFAULT_RATE[row])
const resultsPath = process.env.BENCH_RESULTS ?? join(ROOT, `bench/out/compare-${row}.json`)

const commit = (await run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT })).stdout.trim()
await buildForBench()
const referenceEntry = await buildCommit(commit)
const settings = readSettings()
const simulator = await startSimulatorProcess(0)
try {
  const perStart: Array<{ referenceFirst: boolean, rounds: Round[], ratio: number }> = []
  let failed = 0
  for (let start = 0; start < starts; start++) {
    const referenceFirst = start % 2 === 0
    const measured = await measureOneStart(referenceFirst)
    failed += measured.failed
    perStart.push({ referenceFirst, rounds: measured.rounds, ratio: measured.rounds.reduce((sum, r) => sum + r.ratio, 0) / measured.rounds.length })
  }
  const summary = summarisePaired(perStart.map((s) => s.ratio))
  report(summary, perStart, failed)
  await mkdir(dirname(resultsPath), { recursive: true })
  await writeFile(resultsPath, JSON.stringify({ generatedAt: new Date().toISOString(), cores: cpus().length, ref, commit, row, rate, starts, rounds, seconds, summary, perStart, failed }, null, 2) + '\n')
  process.stdout.write(`results in ${resultsPath}\n`)
} finally {
  await simulator.stop()
}

interface Round { reference: number, change: number, ratio: number }

/** Both gateways started afresh, warmed up, then measured side by side at the same time. */
async function measureOneStart (referenceFirst: boolean): Promise<{ rounds: Round[], failed: number }> {
  const servers: ServerProcess[] = []
  try {
    const startOne = async (entry: string) => {
      const server = await startGatewayAt(entry, settings, simulator.url)
      servers.push(server)
      return server
    }
    let reference: ServerProcess
    let change: ServerProcess
    if (referenceFirst) {
      reference = await startOne(referenceEntry)
      change = await startOne(gatewayEntry())
    } else {
      change = await startOne(gatewayEntry())
      reference = await startOne(referenceEntry)
    }
    await Promise.all([reference, change].map(async (server) => runLoad({ ...loadFor(server), seconds: WARMUP_SECONDS })))
    const measured: Round[] = []
    let failed = 0
    for (let round = 0; round < rounds; round++) {
      const [ofReference, ofChange] = await Promise.all([reference, change].map(async (server) => {
        const result = await measure({ load: loadFor(server), cpuMs: server.cpuMs }, seconds)
        failed += result.non2xx + result.errors + result.timeouts
        // The server's CPU covers its lead-in's answers too, which combine() counts.
        return combine(result).cpuMsPerRequest! * 1000
      }))
      measured.push({ reference: ofReference!, change: ofChange!, ratio: ofChange! / ofReference! })
    }
    return { rounds: measured, failed }
  } finally {
    await Promise.all(servers.map(async (server) => server.stop()))
  }
}

/** The commit's own sources, built by its own build script, beside the working tree's bundle. */
async function buildCommit (sha: string): Promise<string> {
  const sources = join(WORK_DIR, 'reference-sources')
  const tree = join(WORK_DIR, 'gateway-reference')
  await mkdir(sources, { recursive: true })
  await run('sh', ['-c', `git archive --format=tar "${sha}" | tar -x -C "${sources}"`], { cwd: ROOT })
  await makeRunnable(sources)
  // Runnable before it is built: the build starts the gateway once to write its code cache.
  await makeRunnable(tree)
  await run(process.execPath, ['--import', 'tsx', 'scripts/build.ts', join(tree, 'dist')], { cwd: sources })
  return join(tree, 'dist', 'server.js')
}

function loadFor (server: ServerProcess): Omit<LoadSpec, 'seconds'> {
  return row === 'send'
    ? { url: server.url, method: 'POST', path: '/sms', headers: sendHeaders, body: sendBody('+48500600700'), connections: CONNECTIONS, overallRate: rate }
    : { url: server.url, method: 'GET', path: '/dlr', connections: CONNECTIONS, overallRate: rate, expectInBody: 'OK', deliveryReports: { publicUrl: server.url, secret: DLR_SECRET } }
}

function report (summary: PairedSummary, perStart: ReadonlyArray<{ rounds: Round[], ratio: number }>, failed: number): void {
  const figure = (value: number) => value.toFixed(3)
  const lines = [
    `sms-gateway CPU per request — working tree vs. ${ref} (${commit.slice(0, 12)}), ${row}, ${rate} req/s each, ${starts} starts × ${rounds} rounds × ${seconds} s, ${cpus().length} cores`,
    ...perStart.map((start, i) => `  start ${i + 1}: µs per request ${start.rounds.map((r) => `${r.reference.toFixed(1)}→${r.change.toFixed(1)}`).join(' ')}  ratio ${figure(start.ratio)}`),
    `  working tree / ${ref}: mean ${figure(summary.mean)} (95% ${figure(summary.low)}–${figure(summary.high)} over the starts), median ${figure(summary.median)}`,
    `  non-2xx or errors: ${failed}`
  ]
  process.stdout.write(lines.join('\n') + '\n')
}
