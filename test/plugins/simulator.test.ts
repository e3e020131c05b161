import t, { type Test } from 'tap'
import Fastify from 'fastify'
import app from '../../src/app.js'
import { serverOptions } from '../../src/server-options.js'
import { authHeader, freePort, LogCapture, testConfig } from '../helper.js'
import { loggerOptions } from '../../src/logging.js'
import { waitFor } from '../servers.js'

/** A gateway with the in-process simulator, its reports coming back to it; `env` adds settings. */
async function startWithSimulator (t: Test, env: Record<string, string> = {}) {
  const port = await freePort()
  const config = testConfig({ SERWERSMS_TOKEN: undefined, SERWERSMS_SIMULATOR: 'true', SIMULATOR_DLR_DELAY_MS: '10', PUBLIC_URL: `http://127.0.0.1:${port}`, DLR_SECRET: 'd'.repeat(40), ...env })
  const logs = new LogCapture()
  const server = Fastify(serverOptions(config, { logger: { ...loggerOptions('info', false), stream: logs } }))
  await server.register(app, { config })
  t.teardown(() => server.close())
  await server.listen({ host: '127.0.0.1', port })
  return { port, logs }
}

const reportsCounted = async (port: number): Promise<boolean> =>
  /sms_gateway_delivery_reports_total\{status="[a-z_]+",reason="[a-z_]+"\} 1/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())

t.test('SERWERSMS_SIMULATOR=true runs the simulator in-process, says so, and closes the loop to itself', async (t) => {
  const { port, logs } = await startWithSimulator(t)
  t.ok(logs.entries.some((e) => e.level === 40 && /SERWERSMS_SIMULATOR=true/.test(String(e.msg))), 'a warning at start')
  t.match(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json(), { upstream: 'simulator', upstreamUrl: /^http:\/\/127\.0\.0\.1:\d+\/$/ })
  const answer = await fetch(`http://127.0.0.1:${port}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to: '+48500600700', text: 'x' }) })
  t.equal(answer.status, 200)
  await waitFor('the simulator\'s delivery report', async () => await reportsCounted(port))
  t.pass('the report came back and was counted')
})

t.test('the in-process simulator reads a scheduled send\'s date in SERWERSMS_TIME_ZONE, as the gateway wrote it', async (t) => {
  // Tokyo is 7 or 8 hours ahead of Warsaw: read as Warsaw time, the report would be due hours later.
  const { port } = await startWithSimulator(t, { SERWERSMS_TIME_ZONE: 'Asia/Tokyo' })
  const sendAt = new Date(Date.now() + 2000).toISOString()
  const answer = await fetch(`http://127.0.0.1:${port}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to: '+48500600700', text: 'x', sendAt }) })
  t.equal(answer.status, 200)
  await waitFor('the scheduled send\'s delivery report', async () => await reportsCounted(port))
  t.pass('reported on once its date came')
})
