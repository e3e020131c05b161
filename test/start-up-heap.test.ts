import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'

/**
 * src/start-up-heap.ts, in processes of their own (a V8 flag is process-wide): while growth is
 * stopped, objects that survive do not grow the young generation; once it resumes, they do. The
 * control process keeps the same objects without stopping growth, so the test shows that the flag
 * is what held the young generation, and fails on a Node that ignores it at run time.
 */

const run = promisify(execFile)

/** Objects that live on, as start-up's do: far more than the young generation holds. */
const SURVIVORS = 300_000

const program = (stopGrowth: boolean): string => `
  import { getHeapSpaceStatistics } from 'node:v8'
  import { stopYoungGenerationGrowth, resumeYoungGenerationGrowth } from './src/start-up-heap.ts'
  const youngGeneration = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size
  const kept = []
  const keep = () => { for (let i = 0; i < ${SURVIVORS}; i++) kept.push({ i, text: 'survivor ' + i }) }
  const sizes = { before: youngGeneration() }
  if (${String(stopGrowth)}) stopYoungGenerationGrowth()
  keep()
  sizes.held = youngGeneration()
  resumeYoungGenerationGrowth()
  keep()
  sizes.after = youngGeneration()
  console.log(JSON.stringify(sizes))
`

async function youngGenerationSizes (stopGrowth: boolean): Promise<{ before: number, held: number, after: number }> {
  // The parent's environment, so that tap counts the module's coverage in the child too.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program(stopGrowth)], { env: process.env })
  return JSON.parse(stdout) as { before: number, held: number, after: number }
}

t.test('stopped, survivors leave the young generation at its size; resumed, they grow it again', async (t) => {
  const sizes = await youngGenerationSizes(true)
  t.equal(sizes.held, sizes.before, `held at ${sizes.before} bytes while stopped`)
  t.ok(sizes.after > sizes.held, `grew to ${sizes.after} bytes once resumed`)
})

t.test('the control: the same survivors, growth never stopped, grow the young generation at once', async (t) => {
  const sizes = await youngGenerationSizes(false)
  t.ok(sizes.held > sizes.before, `${sizes.before} → ${sizes.held} bytes`)
})
