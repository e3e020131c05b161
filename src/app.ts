import type { FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import authPlugin from './plugins/auth.js'
import metricsPlugin from './plugins/metrics.js'
import problemsPlugin from './plugins/problems.js'
import simulatorPlugin from './plugins/simulator.js'
import upstreamClientPlugin from './plugins/upstream-client.js'
import dlrRoutes from './routes/dlr/index.js'
import healthRoutes from './routes/health/index.js'
import metricsRoutes from './routes/metrics/index.js'
import smsRoutes from './routes/sms/index.js'

export interface AppOptions {
  config: Config
}

/** The whole gateway as one plugin, registered in dependency order; listening is server.ts's job. */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(problemsPlugin)
  await fastify.register(metricsPlugin)
  await fastify.register(authPlugin, { apiKeys: config.auth.apiKeys, disabled: config.auth.disabled })
  if (config.upstream.simulator.enabled) await fastify.register(simulatorPlugin, { config })
  await fastify.register(upstreamClientPlugin, { config })

  await fastify.register(healthRoutes, { config })
  await fastify.register(smsRoutes, { config })
  await fastify.register(dlrRoutes, { config })
  await fastify.register(metricsRoutes, { config })
}
