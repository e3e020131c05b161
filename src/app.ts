import type { FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { useUtf8JsonParser } from './json-body.js'
import answerTimeoutPlugin from './plugins/answer-timeout.js'
import authPlugin from './plugins/auth.js'
import idempotencyPlugin from './plugins/idempotency.js'
import metricsPlugin from './plugins/metrics.js'
import pipeliningPlugin from './plugins/pipelining.js'
import problemsPlugin from './plugins/problems.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import requestLogPlugin from './plugins/request-log.js'
import swaggerPlugin from './plugins/swagger.js'
import upstreamClientPlugin from './plugins/upstream-client.js'
import dlrRoutes from './routes/dlr/index.js'
import healthRoutes from './routes/health/index.js'
import metricsRoutes from './routes/metrics/index.js'
import smsRoutes from './routes/sms/index.js'
import { applyConnectionRules } from './server-options.js'

export interface AppOptions {
  config: Config
}

/** The whole gateway as one plugin, registered in dependency order; listening is server.ts's job. */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  // JSON only (and forms on /dlr): a text body would reach validation as a string and confuse the caller.
  fastify.removeContentTypeParser('text/plain')
  useUtf8JsonParser(fastify)
  applyConnectionRules(fastify.server)
  // First: a connection pipelining past its bound is cut before any other hook runs for it.
  await fastify.register(pipeliningPlugin)
  await fastify.register(answerTimeoutPlugin)
  await fastify.register(requestLogPlugin)
  await fastify.register(problemsPlugin)
  await fastify.register(swaggerPlugin, { maxRecipients: config.sending.maxRecipients })
  await fastify.register(metricsPlugin)
  // Optional resources are imported only when configured: start-up time and memory are a target.
  if (config.redisUrl !== undefined) await fastify.register(import('./plugins/redis.js'), { url: config.redisUrl })
  await fastify.register(authPlugin, { apiKeys: config.auth.apiKeys, disabled: config.auth.disabled })
  await fastify.register(rateLimitPlugin, { config })
  await fastify.register(idempotencyPlugin, { config })
  if (config.upstream.simulator.enabled) await fastify.register(import('./plugins/simulator.js'), { config })
  await fastify.register(upstreamClientPlugin, { config })

  await fastify.register(healthRoutes, { config })
  await fastify.register(smsRoutes, { config })
  await fastify.register(dlrRoutes, { config })
  await fastify.register(metricsRoutes, { config })
}
