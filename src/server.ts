import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { explainListenError } from './listen-error.js'
import { serverOptions } from './server-options.js'

function exitForConfiguration (error: ConfigError): never {
  process.stderr.write(`sms-gateway cannot start:\n${error.message}\n`)
  process.exit(78) // EX_CONFIG
}

function readConfig (): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    exitForConfiguration(error)
  }
}

const config = readConfig()
const server = Fastify(serverOptions(config))
const { timeoutMs } = config.upstream
const { shutdownGraceMs } = config.server
if (timeoutMs >= shutdownGraceMs) {
  // A send may wait that long for the provider; a shutdown then stops the process first, and
  // its caller gets no answer for recipients that may have been sent.
  server.log.warn({ SERWERSMS_TIMEOUT_MS: timeoutMs, SHUTDOWN_GRACE_MS: shutdownGraceMs },
    'SERWERSMS_TIMEOUT_MS is not below SHUTDOWN_GRACE_MS: a send still waiting for SerwerSMS at shutdown is cut off without an answer')
}

// SIGTERM: stop taking requests, let in-flight sends finish within the grace period, exit 0
// (close-with-grace exits 1 when the grace period runs out first).
closeWithGrace({ delay: config.server.shutdownGraceMs, logger: server.log }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'shutting down after an error')
  else server.log.info({ signal }, 'shutting down')
  await server.close()
})

async function start (): Promise<typeof server> {
  try {
    await server.register(app, { config })
  } catch (error) {
    // A Redis database refused is the operator's to fix, like a bad value: no stack trace.
    if (error instanceof ConfigError) exitForConfiguration(error)
    throw error
  }
  try {
    await server.listen({ host: config.server.host, port: config.server.port })
  } catch (error) {
    // A port taken or a HOST not of this machine is the operator's to fix, like a bad value: no stack trace.
    if (error instanceof ConfigError) exitForConfiguration(error)
    const problem = explainListenError(error, config)
    if (problem === undefined) throw error
    exitForConfiguration(problem)
  }
  return server
}

/**
 * The gateway, once it listens. Not awaited at the top level, so that the build can bundle this
 * module as CommonJS (src/code-cache.ts); a failed start is an unhandled rejection, which
 * close-with-grace logs before it exits 1 — unless the configuration is at fault (exit 78).
 */
export const started = start()
