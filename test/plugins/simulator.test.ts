import t from 'tap'
import Fastify from 'fastify'
import app from '../../src/app.js'
import { serverOptions } from '../../src/server-options.js'
import { authHeader, freePort, LogCapture, testConfig } from '../helper.js'
import { loggerOptions } from '../../src/logging.js'
import { waitFor } from '../servers.js'

t.test('SERWERSMS_SIMULATOR=true runs the simulator in-process, says so, and closes the loop to itself', async (t) => {
  const port = await freePort()
  const config = testConfig({ SERWERSMS_TOKEN: undefined, SERWERSMS_SIMULATOR: 'true', SIMULATOR_DLR_DELAY_MS: '10', PUBLIC_URL: `http://127.0.0.1:${port}`, DLR_SECRET: 'd'.repeat(40) })
  const logs = new LogCapture()
  const server = Fastify(serverOptions(config, { logger: { ...loggerOptions('info', false), stream: logs } }))
  await server.register(app, { config })
  t.teardown(() => server.close())
  await server.listen({ host: '127.0.0.1', port })
  t.ok(logs.entries.some((e) => e.level === 40 && /SERWERSMS_SIMULATOR=true/.test(String(e.msg))), 'a warning at start')
  t.match(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json(), { upstream: 'simulator', upstreamUrl: /^http:\/\/127\.0\.0\.1:\d+\/$/ })
  const answer = await fetch(`http://127.0.0.1:${port}/sms`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader() }, body: JSON.stringify({ to: '+48500600700', text: 'x' }) })
  t.equal(answer.status, 200)
  await waitFor('the simulator\'s delivery report', async () =>
    /sms_gateway_delivery_reports_total\{status="[a-z_]+",reason="[a-z_]+"\} 1/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()))
  t.pass('the report came back and was counted')
})
