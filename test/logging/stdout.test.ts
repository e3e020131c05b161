import { execFile } from 'node:child_process'
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
