import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'
import t from 'tap'
import { NO_CHILD_COVERAGE } from '../servers.js'

/**
 * The process logger's stdout (src/logging.ts): lines written in a burst — faster than stdout
 * takes them, so they pile up behind a write in flight — all arrive, whole and in order, and
 * what is still pending when the process exits is written before it ends.
 */

const run = promisify(execFile)
const LINES = 20_000

const program = `
  import { pino } from 'pino'
  import { processLoggerOptions } from './src/logging.ts'
  const { stream, ...options } = processLoggerOptions('info')
  const log = pino(options, stream)
  for (let i = 0; i < ${LINES}; i++) log.info({ n: i, text: 'zażółć gęślą jaźń ' + 'x'.repeat(i % 300) }, 'line')
  process.exit(0)
`

t.test('a burst of lines reaches stdout complete and in order, also when the process exits at once', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE },
    maxBuffer: 64 * 1024 * 1024
  })
  const lines = stdout.split('\n').filter(Boolean)
  t.equal(lines.length, LINES, 'every line arrived')
  const numbers = lines.map((line) => (JSON.parse(line) as { n: number }).n)
  t.ok(numbers.every((n, i) => n === i), 'in the order they were written')
  t.equal((JSON.parse(lines.at(-1)!) as { text: string }).text.slice(0, 18), 'zażółć gęślą jaźń ', 'multi-byte text intact')
})

/** A child whose stdout is read only once stderr says lines are dropped, with a backlog of 64 KiB. */
const unreadProgram = `
  import { LineWriter } from './src/line-writer.ts'
  import { STDOUT_NOTICES } from './src/logging.ts'
  process.stdout // makes libuv open fd 1 as a non-blocking pipe, as the process logger does
  const writer = new LineWriter(1, STDOUT_NOTICES, 64 * 1024)
  for (let n = 0; n < ${LINES}; n++) {
    writer.write(JSON.stringify({ n, text: 'x'.repeat(n % 300) }) + '\\n')
    // Less than the backlog holds per event-loop turn: once read, nothing more is dropped.
    if (n % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  writer.flush(() => process.exit(0))
`

t.test('a stdout that is not read: lines beyond the backlog are dropped, and stderr tells so, then how many', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', unreadProgram], {
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.pause()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    if (stderr.includes('dropped until')) child.stdout.resume()
  })
  const [code] = await once(child, 'close') as [number | null]
  t.equal(code, 0, 'exits once everything is out')
  const notices = stderr.split('\n').filter(Boolean)
  // A reader paused only once its buffer is full takes a little meanwhile, so lines may be dropped more than once.
  t.ok(notices.length >= 2 && notices.length % 2 === 0, `${notices.length} notices, in pairs`)
  notices.forEach((notice, i) => {
    t.match(notice, i % 2 === 0
      ? 'sms-gateway: stdout is not reading, and 0.0625 MiB of log lines wait for it; lines beyond are dropped until it reads them'
      : /^sms-gateway: stdout has read the log lines that waited; \d+ were dropped meanwhile$/)
  })
  const dropped = notices.reduce((sum, notice) => sum + Number(/(\d+) were dropped/.exec(notice)?.[1] ?? 0), 0)
  t.equal(stdout.split('\n').filter(Boolean).length + dropped, LINES, 'each line was written or counted as dropped')
})

/** The process logger with nobody reading its stdout; the metric of dropped lines is told on stderr. */
const metricProgram = `
  import { pino } from 'pino'
  import { MAX_BACKLOG_BYTES } from './src/line-writer.ts'
  import { processLoggerOptions } from './src/logging.ts'
  import { createGatewayMetrics } from './src/plugins/metrics.ts'
  const { stream, ...options } = processLoggerOptions('info')
  const log = pino(options, stream)
  const text = 'x'.repeat(1000)
  // Twice what the backlog holds, a few lines per event-loop turn, so that the writer tries between.
  for (let n = 0; n < 2 * MAX_BACKLOG_BYTES / text.length; n++) {
    log.info({ n, text }, 'line')
    if (n % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  const { registry } = createGatewayMetrics()
  process.stderr.write((await registry.getSingleMetricAsString('sms_gateway_log_lines_dropped_total')) + '\\n')
  process.exit(0)
`

t.test('the lines the process logger dropped are counted in sms_gateway_log_lines_dropped_total', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', metricProgram], {
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stdout.pause()
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  // Read only once the process has exited, after waiting for it a while (EXIT_WAIT_LIMIT_MS).
  child.on('exit', () => { child.stdout.resume() })
  const [code] = await once(child, 'close') as [number | null]
  t.equal(code, 0, 'exits without its reader')
  const dropped = Number(/^sms_gateway_log_lines_dropped_total (\d+)$/m.exec(stderr)?.[1])
  t.ok(dropped > 0, `counted: ${dropped}`)
  t.match(stderr, 'sms-gateway: stdout is not reading, and 16 MiB of log lines wait for it', 'and told on stderr')
})
