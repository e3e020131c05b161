import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { loggerOptions } from '../src/logging.js'
import { serverOptions } from '../src/server-options.js'
import { freePort } from '../bench/lib/free-port.js'
import { startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/simulator.js'

export { freePort }

export const TEST_API_KEY = 'test-key-0123456789abcdef'
export const OTHER_API_KEY = 'other-key-0123456789abcdef'
export const UPSTREAM_TOKEN = 'upstream-token-s3cr3t-value'
export const DLR_SECRET = 'dlr-secret-0123456789abcdef0123456789abcdef'

/** Environment of a gateway under test: no dotenv file, keys known to the tests. */
export function testEnvironment (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    ENV_FILE: '/dev/null',
    LOG_LEVEL: 'info',
    SERWERSMS_TOKEN: UPSTREAM_TOKEN,
    API_KEYS: `billing:${TEST_API_KEY},shop:${OTHER_API_KEY}`,
    SERWERSMS_TIMEOUT_MS: '2000',
    ...overrides
  }
}

export function testConfig (overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnvironment(overrides))
}

/** Collects log lines as parsed JSON objects, to assert on what was (not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    callback()
  }

  get entries (): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}

export interface GatewayUnderTest {
  app: FastifyInstance
  /** base URL of the listening gateway, e.g. http://127.0.0.1:41234 */
  url: string
  simulator: Simulator
  config: Config
  logs: LogCapture
}

export interface StartOptions {
  env?: Record<string, string | undefined>
  simulator?: SimulatorOptions
  /** point the gateway at this URL instead of the simulator (e.g. a closed port) */
  upstreamUrl?: string
  /** set PUBLIC_URL and DLR_SECRET so that delivery reports come back to this gateway */
  deliveryReportsToSelf?: boolean
  /** listen on this port rather than on one the system picks */
  port?: number
}

/** Starts the simulator and the gateway on loopback ports; both close when the test ends. */
export async function startGateway (t: Test, options: StartOptions = {}): Promise<GatewayUnderTest> {
  const simulator = await startSimulator({ credentials: { token: UPSTREAM_TOKEN }, deliveryReports: false, logger: false, ...options.simulator })
  t.teardown(() => simulator.close())
  // A gateway whose reports come back to it needs its port before it starts (PUBLIC_URL). The
  // port found free may be taken before the listen (a connection of another test file's may get
  // it as its own end): then another port, and a gateway built afresh for it.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (options.deliveryReportsToSelf === true ? await freePort() : 0)
    const selfUrl = options.deliveryReportsToSelf === true ? { PUBLIC_URL: `http://127.0.0.1:${port}`, DLR_SECRET } : {}
    const config = testConfig({ SERWERSMS_API_URL: options.upstreamUrl ?? simulator.url, ...selfUrl, ...options.env })
    const logs = new LogCapture()
    const server = Fastify(serverOptions(config, { logger: { ...loggerOptions(config.logLevel, false), stream: logs } }))
    await server.register(app, { config })
    try {
      await server.listen({ host: '127.0.0.1', port })
    } catch (error) {
      await server.close()
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && options.port === undefined && port !== 0 && attempt < PORT_ATTEMPTS) continue
      throw error
    }
    t.teardown(() => server.close())
    const { port: listening } = server.server.address() as AddressInfo
    return { app: server, url: `http://127.0.0.1:${listening}`, simulator, config, logs }
  }
}

/** How many free-looking ports startGateway tries before it gives up. */
const PORT_ATTEMPTS = 3

export const authHeader = (key = TEST_API_KEY) => ({ authorization: `Bearer ${key}` })

/** Connections the gateway still holds open: 0 once it has seen a caller who hung up go. */
export async function openConnections (gw: GatewayUnderTest): Promise<number> {
  return await new Promise<number>((resolve) => {
    gw.app.server.getConnections((_error, count) => { resolve(count) })
  })
}

/** POST /sms as the test client, with `key` as its Idempotency-Key (one recipient, by default). */
export async function sendKeyed (url: string, key: string, { body = { to: '+48500600700', text: 'Pay 10 PLN' }, signal }: { body?: unknown, signal?: AbortSignal } = {}): Promise<Response> {
  return await fetch(`${url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeader(), 'idempotency-key': key },
    body: JSON.stringify(body),
    signal
  })
}
