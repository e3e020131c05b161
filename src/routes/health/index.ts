import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../../config.js'

const HealthSchema = Type.Object({ status: Type.Literal('ok') })
const ReadinessSchema = Type.Object({
  status: Type.Literal('ready'),
  upstream: Type.String({ enum: ['serwersms', 'simulator'], description: 'where messages go' }),
  upstreamUrl: Type.String(),
  deliveryReports: Type.Boolean({ description: 'whether sends carry a signed dlr_url' }),
  idempotencyStore: Type.String({ enum: ['memory', 'redis'] })
})

/** Liveness and readiness for orchestrators; while closing, fastify answers 503 on its own. */
const routes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  const readiness = {
    status: 'ready' as const,
    upstream: config.upstream.simulator.enabled ? 'simulator' : 'serwersms',
    upstreamUrl: app.hasDecorator('simulator') ? app.simulator.url : config.upstream.apiUrl,
    deliveryReports: config.deliveryReports.publicUrl !== undefined,
    idempotencyStore: config.redisUrl === undefined ? 'memory' : 'redis'
  }

  app.get('/healthz', {
    schema: { summary: 'Liveness: the process answers', tags: ['operations'], response: { 200: HealthSchema } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: { summary: 'Readiness: configured and able to take sends', tags: ['operations'], response: { 200: ReadinessSchema } }
  }, async () => readiness)
}

export default routes
