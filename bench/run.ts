import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { buildForBench, ROOT } from './lib/build.js'
import { formatTable, type Row } from './lib/report.js'
import { DEFAULT_RESULTS_PATH, readSettings, type BenchSettings } from './lib/settings.js'
import { measureBulk } from './rows/bulk.js'
import { measureUpstreamClients } from './rows/clients.js'
import { measureDeliveryReportIngest } from './rows/dlr.js'
import { measureAgainstKannel } from './rows/kannel.js'
import { measureSendOverhead } from './rows/send.js'
import { measureStartup } from './rows/startup.js'

/**
 * `npm run bench [row…]`: every row (or the named ones: send, dlr, bulk, startup, kannel) in
 * one process tree on this machine, subject and baseline side by side; prints the table and
 * writes the results as JSON.
 */
const ROWS: Record<Row['id'], (settings: BenchSettings) => Promise<Row>> = {
  send: measureSendOverhead,
  dlr: measureDeliveryReportIngest,
  bulk: measureBulk,
  startup: measureStartup,
  kannel: measureAgainstKannel,
  clients: measureUpstreamClients
}

export interface BenchResults {
  generatedAt: string
  machine: { cores: number, cpuModel: string, node: string, platform: string, loadAverageAtStart: number[] }
  settings: Omit<BenchSettings, 'resultsPath' | 'cpuProfileDir' | 'cores'>
  rows: Row[]
  failedChecks: number
}

const requested = process.argv.slice(2)
const unknown = requested.filter((id) => !(id in ROWS))
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown row ${unknown.join(', ')}; rows are ${Object.keys(ROWS).join(', ')}\n`)
  process.exit(64)
}
const ids = (requested.length === 0 ? Object.keys(ROWS) : requested) as Array<Row['id']>
const settings = readSettings()
const resultsPath = settings.resultsPath ?? (requested.length === 0 ? DEFAULT_RESULTS_PATH : join(ROOT, `bench/out/results-${ids.join('-')}.json`))

await buildForBench()
const started = performance.now()
const loadAverageAtStart = loadavg()
const rows: Row[] = []
let crashed = false
for (const id of ids) {
  process.stderr.write(`bench: ${id}…\n`)
  const rowStarted = performance.now()
  try {
    rows.push(await ROWS[id](settings))
  } catch (error) {
    crashed = true
    process.stderr.write(`bench: ${id} failed: ${(error as Error).stack ?? String(error)}\n`)
    rows.push({ id, title: id, subject: '', baseline: '', skipped: `crashed: ${(error as Error).message}`, figures: [], checks: [], notes: [] })
  }
  process.stderr.write(`bench: ${id} took ${((performance.now() - rowStarted) / 1000).toFixed(1)} s\n`)
}

const cpuModel = cpus()[0]?.model ?? 'unknown'
const results: BenchResults = {
  generatedAt: new Date().toISOString(),
  machine: { cores: settings.cores, cpuModel, node: process.version, platform: `${process.platform} ${process.arch}`, loadAverageAtStart },
  settings: { seconds: settings.seconds, bulkRecipients: settings.bulkRecipients, connections: settings.connections, logLevel: settings.logLevel, starts: settings.starts },
  rows,
  failedChecks: rows.flatMap((row) => row.checks).filter((check) => !check.pass).length
}
const header = `sms-gateway benchmark — ${settings.cores} cores (${cpuModel}), Node ${process.version}, ` +
  `${settings.seconds} s per measurement, load average at start ${loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}`
process.stdout.write(`${formatTable(rows, header)}\n`)
await mkdir(dirname(resultsPath), { recursive: true })
await writeFile(resultsPath, `${JSON.stringify(results, null, 2)}\n`)
process.stdout.write(`${results.failedChecks} of ${rows.flatMap((row) => row.checks).length} targets missed; ` +
  `${((performance.now() - started) / 1000).toFixed(0)} s; results in ${resultsPath}\n`)
process.exitCode = crashed ? 1 : 0
