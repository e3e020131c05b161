import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { formatProviderDate } from '../../src/sms/send-date.js'

const CLI = fileURLToPath(new URL('../../src/cli/simulator.ts', import.meta.url))

/** Runs the CLI from source with tap's own TypeScript loader, so its coverage maps like the tests'. */
function startCli (env: Record<string, string>) {
  return spawn(process.execPath, ['--import', '@tapjs/typescript/import', CLI], {
    env: { ...process.env, ENV_FILE: '/dev/null', SIMULATOR_HOST: '127.0.0.1', SIMULATOR_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

t.test('starts, logs its URL as JSON, serves send_sms and stops on SIGTERM', async (t) => {
  const child = startCli({ SIMULATOR_TOKEN: 'cli-token', SIMULATOR_LATENCY_MS: '5', LOG_LEVEL: 'info' })
  t.teardown(() => child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout })
  let url = ''
  for await (const line of lines) {
    const entry = JSON.parse(line)
    if (typeof entry.url === 'string') {
      url = entry.url
      t.match(entry, { level: 30, name: 'serwersms-simulator', latencyMs: 5, timeZone: 'Europe/Warsaw', deliveryReports: { delayMs: 1000 }, auth: 'configured credentials only' })
      break
    }
  }
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)

  const post = async (token: string) => {
    const response = await request(`${url}messages/send_sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ phone: '500600700', text: 'hi' })
    })
    return await response.body.json()
  }
  t.same(await post('cli-token'), { success: true, queued: 1, unsent: 0 })
  t.match(await post('other'), { error: { code: 1001 } })

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
})

t.test('it reads a send\'s date in SERWERSMS_TIME_ZONE, the gateway\'s own variable', async (t) => {
  // UTC+14: its wall time now, read as Polish time, would be 12 or 13 hours ahead.
  const zone = 'Pacific/Kiritimati'
  const child = startCli({ SERWERSMS_TIME_ZONE: zone, SIMULATOR_DLR_DELAY_MS: '0', LOG_LEVEL: 'info' })
  t.teardown(() => child.kill('SIGKILL'))
  let url = ''
  for await (const line of createInterface({ input: child.stdout })) {
    const entry = JSON.parse(line)
    if (typeof entry.url !== 'string') continue
    t.equal(entry.timeZone, zone)
    url = entry.url
    break
  }
  const reported = new Promise<string>((resolve) => {
    const receiver = createServer((incoming, answer) => { answer.end('OK'); resolve(incoming.url ?? '') })
    t.teardown(() => { receiver.close() })
    receiver.listen(0, '127.0.0.1', () => {
      const { port } = receiver.address() as AddressInfo
      request(`${url}messages/send_sms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer any' },
        body: JSON.stringify({ phone: '500600700', text: 'hi', date: formatProviderDate(new Date(), zone), dlr_url: `http://127.0.0.1:${port}/dlr` })
      }).then(async (response) => { await response.body.dump() }, (error: Error) => { resolve(`send failed: ${error.message}`) })
    })
  })
  const timeout = new Promise<string>((resolve) => setTimeout(() => { resolve('none within 10 s') }, 10_000).unref())
  t.match(await Promise.race([reported, timeout]), /^\/dlr/, 'due now, not in half a day: its report comes at once')
})

t.test('a bad setting, or a port taken, stops it with exit 78 and a message naming the variable, without a stack trace', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const takenPort = String((taken.address() as AddressInfo).port)
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ SIMULATOR_PORT: 'ninety' }, /SIMULATOR_PORT="ninety" is invalid/],
    [{ SIMULATOR_HOST: '127.0.0.1:4010' }, /SIMULATOR_HOST="127\.0\.0\.1:4010" is invalid: has the wrong format/],
    [{ SIMULATOR_PORT: takenPort }, new RegExp(`SIMULATOR_PORT=${takenPort} cannot be listened on: another process already listens there \\(SIMULATOR_HOST="127\\.0\\.0\\.1"\\)\\. Stop that process, or set SIMULATOR_PORT to a free port\\.`)]
  ]
  await Promise.all(cases.map(async ([env, message]) => {
    const child = startCli(env)
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    // 'close', not 'exit': only then has all of stderr been read.
    const [code] = await once(child, 'close')
    t.equal(code, 78, JSON.stringify(env))
    t.match(stderr, /^serwersms simulator cannot start:\n/)
    t.match(stderr, message)
    t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  }))
})
