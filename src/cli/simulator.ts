/**
 * Runs the built-in SerwerSMS simulator on its own (`npm run simulator`), for tests and benchmarks
 * that drive it from another process through its control API (/__simulator/*).
 */
import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { ConfigError, loadSimulatorConfig, type SimulatorConfig } from '../config.js'
import { explainListen } from '../listen-error.js'
import { startSimulator } from '../simulator/simulator.js'

const EX_CONFIG = 78
const SHUTDOWN_GRACE_MS = 5000

function readConfig (): SimulatorConfig | undefined {
  try {
    return loadSimulatorConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`serwersms simulator cannot start:\n${error.message}\n`)
    process.exitCode = EX_CONFIG
    return undefined
  }
}

const config = readConfig()
if (config !== undefined) {
  const logger = pino({ level: config.logLevel, name: 'serwersms-simulator' })
  const credentials = config.token === undefined && config.username === undefined
    ? undefined
    : { token: config.token, username: config.username, password: config.password }
  // A port taken or a SIMULATOR_HOST not of this machine is the operator's to fix: exit 78, no stack trace.
  const simulator = await startSimulator({
    host: config.host,
    port: config.port,
    latencyMs: config.latencyMs,
    timeZone: config.timeZone,
    credentials,
    deliveryReports: config.deliveryReports ? { delayMs: config.deliveryReportDelayMs } : false,
    logger
  }).catch((error: unknown) => {
    const problem = explainListen(error, { port: { name: 'SIMULATOR_PORT', value: config.port }, host: { name: 'SIMULATOR_HOST', value: config.host } })
    if (problem === undefined) throw error
    process.stderr.write(`serwersms simulator cannot start:\n${problem.message}\n`)
    process.exit(EX_CONFIG)
  })

  closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger }, async ({ signal, err }) => {
    if (err !== undefined) logger.error({ err }, 'simulator shutting down after an error')
    else logger.info({ signal }, 'simulator shutting down')
    await simulator.close()
  })

  logger.info({
    url: simulator.url,
    latencyMs: config.latencyMs,
    timeZone: config.timeZone,
    deliveryReports: config.deliveryReports ? { delayMs: config.deliveryReportDelayMs } : false,
    auth: credentials === undefined ? 'any non-empty credentials' : 'configured credentials only'
  }, `SerwerSMS simulator listening at ${simulator.url}`)
}
