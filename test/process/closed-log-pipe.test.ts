import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freePort, testEnvironment } from '../helper.js'
import { NO_CHILD_COVERAGE, waitFor } from '../servers.js'

/**
 * The gateway with stdout and stderr on one pipe whose reader goes away, as under runit or s6 or
 * `node dist/server.js 2>&1 | head -1`: its log is lost, and it must go on serving all the same.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

t.test('stdout and stderr on one pipe that closes: the log is lost, and the gateway goes on serving', async (t) => {
  const port = await freePort()
  const env = { PATH: process.env.PATH, ...NO_CHILD_COVERAGE, ...testEnvironment({ HOST: '127.0.0.1', PORT: String(port) }) }
  // The shell puts stderr on stdout's pipe, and then is the gateway (exec): the pipe has no other writer.
  const child = spawn('sh', ['-c', 'exec "$0" --import tsx src/server.ts 2>&1', process.execPath], {
    cwd: ROOT,
    env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited
  })
  const [first] = await once(child.stdout, 'data') as [Buffer]
  t.match(first.toString(), /^\{/, 'the first log line came')
  child.stdout.destroy()

  // Each answer is logged, into the closed pipe: the first fails the log, and the notice on stderr too.
  const url = `http://127.0.0.1:${port}/healthz`
  await waitFor('the gateway', async () => (await fetch(url).catch(() => undefined))?.ok === true, 60_000)
  for (let request = 0; request < 3; request++) {
    t.equal((await fetch(url)).status, 200, `answered after its log closed (${request + 1})`)
  }
  t.equal(child.exitCode, null, 'still running')
})
