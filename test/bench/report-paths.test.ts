import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { deliveryReportPaths } from '../../bench/lib/report-paths.js'
import { NO_CHILD_COVERAGE } from '../servers.js'

const run = promisify(execFile)
const spec = { publicUrl: 'http://127.0.0.1:3000', secret: 'bench-dlr-secret-0123456789abcdef0123456789abcdef' }
const REPORTS = 2000

const messageIdOf = (path: string) => new URLSearchParams(path.slice(path.indexOf('?') + 1)).get('smsid')

t.test('a report path carries a message id like the provider\'s, a new one each', async (t) => {
  const next = deliveryReportPaths(spec)
  const ids = Array.from({ length: REPORTS }, () => messageIdOf(next()))
  t.ok(ids.every((id) => id !== null && /^[0-9a-f]{10}$/.test(id)), `e.g. ${ids[0]}`)
  t.equal(new Set(ids).size, REPORTS)
})

t.test('two load processes (a warm-up and a measured stretch) send no message id twice', async (t) => {
  // Each stretch is a load process of its own; ids that restart in each would be the warm-up's
  // again, and the gateway would take the measured reports down its cheaper duplicate path.
  const script = `import { deliveryReportPaths } from './bench/lib/report-paths.ts'
const next = deliveryReportPaths(${JSON.stringify(spec)})
const ids = []
for (let i = 0; i < ${REPORTS}; i++) { const path = next(); ids.push(new URLSearchParams(path.slice(path.indexOf('?') + 1)).get('smsid')) }
process.stdout.write(JSON.stringify(ids))`
  const idsOfAProcess = async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE } })
    return JSON.parse(stdout) as string[]
  }
  const [first, second] = await Promise.all([idsOfAProcess(), idsOfAProcess()])
  const seen = new Set(first)
  t.equal(second.filter((id) => seen.has(id)).length, 0)
})
