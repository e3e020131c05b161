import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { GatewayError } from '../errors.js'

/**
 * Per-client limits (by API-key name, so a client's replicas share one budget), kept in Redis
 * when it is configured so every gateway replica counts together. Routes opt in with
 * `config: { rateLimit: … }`; the check runs after authentication and before the body is read,
 * so every request counts: replays, refusals and bodies that cannot be parsed included.
 */
export default fp<{ config: Config }>(async function rateLimitPlugin (app, { config }) {
  // The window as configured: the context's `after` is the time left of the current one.
  const limit = `This client may make ${config.rateLimit.max} requests per ${config.rateLimit.windowMs / 1000} s (RATE_LIMIT_WINDOW); retry after the Retry-After seconds.`
  await app.register(rateLimit, {
    global: false,
    hook: 'preParsing',
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: (request: FastifyRequest) => request.client,
    enableDraftSpec: true,
    // Limits are a courtesy, not a safety: if Redis fails, let requests through (idempotency still fails closed).
    skipOnError: true,
    ...(app.hasDecorator('redis') ? { redis: app.redis, nameSpace: 'sms-gateway:rate-limit:' } : {}),
    errorResponseBuilder: () => new GatewayError('GW_RATE_LIMITED', limit)
  })
}, { name: 'rate-limit', dependencies: ['auth'], fastify: '5.x' })
