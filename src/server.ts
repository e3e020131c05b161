import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { serverOptions } from './server-options.js'

function readConfig (): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`sms-gateway cannot start:\n${error.message}\n`)
    process.exit(78) // EX_CONFIG
  }
}

const config = readConfig()
const server = Fastify(serverOptions(config))

// SIGTERM: stop taking requests, let in-flight sends finish within the grace period, exit 0.
closeWithGrace({ delay: config.server.shutdownGraceMs, logger: server.log }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'shutting down after an error')
  else server.log.info({ signal }, 'shutting down')
  await server.close()
})

await server.register(app, { config })
await server.listen({ host: config.server.host, port: config.server.port })
