import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../../config.js'
import { shuttingDownResponse } from '../../schemas/problem.js'

const HealthSchema = Type.Object({ status: Type.Literal('ok') })
const ReadinessSchema = Type.Object({
  status: Type.Literal('ready'),
  upstream: Type.String({ enum: ['serwersms', 'simulator'], description: 'where messages go' }),
  upstreamUrl: Type.String(),
  deliveryReports: Type.Boolean({ description: 'whether sends carry a signed dlr_url' }),
  idempotencyStore: Type.String({ enum: ['memory', 'redis'] }),
  redis: Type.Optional(Type.Object({
    evictsKeys: Type.Optional(Type.Boolean({ description: 'true: Redis may evict idempotency keys before they expire, and a retry of an evicted key sends again (set maxmemory-policy noeviction); absent when Redis does not tell (INFO refused)' })),
    maxmemory: Type.Optional(Type.Integer({ description: 'bytes; 0 for no limit' })),
    maxmemoryPolicy: Type.Optional(Type.String())
  }, { description: 'with REDIS_URL: Redis\'s eviction settings as read at its last connection' }))
})

/** fastify answers HEAD for every GET; probes of load balancers use it here, so the document shows it. */
const DOCUMENTED_HEAD = { swagger: { exposeHeadRoute: true } }

/** Liveness and readiness for orchestrators; while closing, the problems plugin answers 503. */
const routes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  const readiness = {
    status: 'ready' as const,
    upstream: config.upstream.simulator.enabled ? 'simulator' : 'serwersms',
    upstreamUrl: withoutCredentials(app.hasDecorator('simulator') ? app.simulator.url : config.upstream.apiUrl),
    deliveryReports: config.deliveryReports.publicUrl !== undefined,
    idempotencyStore: config.redisUrl === undefined ? 'memory' : 'redis'
  }
  // Shown, not probed: an evicting Redis would take every replica out of service at once.
  const ready = app.hasDecorator('redisEviction') ? () => ({ ...readiness, redis: app.redisEviction }) : () => readiness

  app.get('/healthz', {
    config: DOCUMENTED_HEAD,
    schema: {
      operationId: 'getLiveness',
      summary: 'Liveness: the process answers',
      description: 'For orchestrators: 200 while the process runs; 503 once it is shutting down.',
      tags: ['operations'],
      response: {
        200: { description: 'The process is alive', content: { 'application/json': { schema: HealthSchema, example: { status: 'ok' } } } },
        503: shuttingDownResponse()
      }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: DOCUMENTED_HEAD,
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness: started, configured, and not shutting down',
      description: 'For orchestrators and operators: how this gateway is configured. 503 once it is shutting down. Redis and SerwerSMS are not probed: an outage of either would take every replica out of service at once, while each send answers with what happened to it. With Redis, its eviction settings are shown (an evicting Redis is logged as an error) without making the gateway unready, for the same reason.',
      tags: ['operations'],
      response: {
        200: {
          description: 'Ready to take sends',
          content: { 'application/json': { schema: ReadinessSchema, example: { status: 'ready', upstream: 'serwersms', upstreamUrl: 'https://api2.serwersms.pl/', deliveryReports: true, idempotencyStore: 'memory' } } }
        },
        503: shuttingDownResponse()
      }
    }
  }, async () => ready())
}

export default routes

/** A URL may carry user:password; readiness is unauthenticated, so it shows the URL without them. */
function withoutCredentials (url: string): string {
  const parsed = new URL(url)
  parsed.username = ''
  parsed.password = ''
  return parsed.toString()
}
