import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { NO_CHILD_COVERAGE } from '../servers.js'

/**
 * Keeps the benchmark scripts from rotting: each runs once for a second per measurement and must
 * write well-formed results. No figure is judged here — timings belong to `npm run bench`.
 */
const run = promisify(execFile)
const ROW_IDS = ['send', 'dlr', 'bulk', 'startup', 'kannel', 'clients']
// Generous: on CI, under load, the first run took 126 s and the file 219 s; a hung bench still ends here.
const SMOKE_TIMEOUT_MS = 480_000

t.setTimeout(600_000)

/** The bench's own processes must not inherit tap's coverage and loader hooks. */
function benchEnvironment (resultsPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...NO_CHILD_COVERAGE }
  return { ...env, BENCH_SECONDS: '1', BENCH_BULK_RECIPIENTS: '1000', BENCH_STARTS: '1', BENCH_RESULTS: resultsPath }
}

async function runBench (t: Test, rows: string[]): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const resultsPath = join(dir, 'results.json')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...rows], {
    env: benchEnvironment(resultsPath),
    timeout: SMOKE_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024
  })
  t.match(stdout, /targets missed/, 'prints the table and its summary')
  return JSON.parse(await readFile(resultsPath, 'utf8')) as Record<string, unknown>
}

function checkRow (t: Test, row: Record<string, unknown>): void {
  t.type(row.title, 'string')
  t.ok(Array.isArray(row.notes), `${String(row.id)}: notes`)
  if (row.skipped !== undefined) {
    t.type(row.skipped, 'string', `${String(row.id)} says why it was skipped`)
    t.equal(row.id, 'kannel', 'only the Kannel row may be skipped')
    t.notMatch(row.skipped, /^crashed/, `${String(row.id)} did not crash`)
    return
  }
  const figures = row.figures as Array<Record<string, unknown>>
  t.ok(figures.length > 0, `${String(row.id)} has figures`)
  for (const figure of figures) {
    t.type(figure.measure, 'string')
    t.ok(Number.isFinite(figure.subject), `${String(row.id)} / ${String(figure.measure)}: a number`)
    if (figure.baseline !== undefined) t.ok(Number.isFinite(figure.baseline), `${String(row.id)} / ${String(figure.measure)}: baseline a number`)
  }
  for (const check of row.checks as Array<Record<string, unknown>>) {
    t.type(check.pass, 'boolean')
    t.ok(Number.isFinite(check.value), `${String(row.id)} / ${String(check.name)}: a number`)
  }
}

t.test('npm run bench: every row, well-formed results', async (t) => {
  const results = await runBench(t, [])
  const machine = results.machine as Record<string, unknown>
  t.ok(Number.isInteger(machine.cores) && (machine.cores as number) > 0, 'records the core count')
  const rows = results.rows as Array<Record<string, unknown>>
  t.same(rows.map((row) => row.id), ROW_IDS)
  for (const row of rows) checkRow(t, row)
  t.type(results.failedChecks, 'number')
})

// bench:bulk is the same script with the row named: the run above covers the row, and a second
// run of it (with its own build, ~25 s on CI) would prove only that a name selects its row.
t.test('npm run bench:bulk names the bulk row; a row the bench does not have is refused before any build', async (t) => {
  const { scripts } = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> }
  t.equal(scripts['bench:bulk'], 'node --import tsx bench/run.ts bulk')
  const refused = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'bulk', 'bulky'], { env: benchEnvironment('/nonexistent/results.json') })
    .then(() => undefined, (error: { code: number, stderr: string }) => error)
  t.equal(refused?.code, 64, 'exit 64 (EX_USAGE)')
  t.equal(refused?.stderr, `bench: unknown row bulky; rows are ${ROW_IDS.join(', ')}\n`)
})

t.test('npm run bench:compare: the working tree against HEAD, well-formed results', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-compare-smoke-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const resultsPath = join(dir, 'compare.json')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/compare.ts', 'HEAD', 'send'], {
    env: { ...benchEnvironment(resultsPath), BENCH_COMPARE_STARTS: '2', BENCH_COMPARE_ROUNDS: '1', BENCH_COMPARE_SECONDS: '1', BENCH_COMPARE_RATE: '200' },
    timeout: SMOKE_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024
  })
  t.match(stdout, /working tree \/ HEAD: mean/, 'prints the summary')
  const results = JSON.parse(await readFile(resultsPath, 'utf8')) as Record<string, unknown>
  t.match(results.commit, /^[0-9a-f]{40}$/, 'names the commit it compared with')
  t.equal(results.failed, 0, 'every request answered 2xx')
  const perStart = results.perStart as Array<{ referenceFirst: boolean, rounds: Array<Record<string, number>>, ratio: number }>
  t.same(perStart.map((start) => start.referenceFirst), [true, false], 'the two started in turns')
  for (const start of perStart) {
    t.equal(start.rounds.length, 1)
    for (const round of start.rounds) t.ok(round.reference! > 0 && round.change! > 0 && Number.isFinite(round.ratio), 'CPU per request on both sides')
  }
  const summary = results.summary as Record<string, number>
  t.ok(summary.low! <= summary.mean! && summary.mean! <= summary.high!, 'the mean lies in its interval')
})
