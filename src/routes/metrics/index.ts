import type { FastifyInstance, FastifyRequest } from 'fastify'
import Fastify from 'fastify'
import { GatewayLogController } from '../../logging.js'
import { Type } from 'typebox'
import type { Config } from '../../config.js'
import { GatewayError } from '../../errors.js'
import { markMetricsListenError } from '../../listen-error.js'
import answerTimeoutPlugin from '../../plugins/answer-timeout.js'
import { isSameSecret, readBearer } from '../../plugins/auth.js'
import pipeliningPlugin from '../../plugins/pipelining.js'
import { headerCount } from '../../raw-headers.js'
import problemsPlugin from '../../plugins/problems.js'
import requestLogPlugin from '../../plugins/request-log.js'
import { bearerChallenge, wwwAuthenticateHeader } from '../../schemas/headers.js'
import { problemResponse, shuttingDownResponse } from '../../schemas/problem.js'
import { applyConnectionRules, serverOptions } from '../../server-options.js'

const METRICS_REALM = 'metrics'

/** GET /metrics on `target`, reading the registry of `source` (the app), optionally behind a bearer token. */
function registerMetricsRoute (target: FastifyInstance, source: FastifyInstance, token: string | undefined): void {
  const checkToken = async (request: FastifyRequest) => {
    if (token === undefined) return
    const presented = readBearer(request.headers.authorization)
    // Node keeps the first of several: a token followed by anything else would pass.
    if (presented === undefined || !isSameSecret(presented, token) || headerCount(request.raw.rawHeaders, 'authorization') > 1) {
      throw new GatewayError('GW_METRICS_AUTH', 'Send METRICS_TOKEN as "Authorization: Bearer <token>".', {}, { 'www-authenticate': bearerChallenge(METRICS_REALM) })
    }
  }
  target.get('/metrics', {
    onRequest: checkToken,
    // Served for HEAD too (a probe of the scrape target), with the token checked: so documented.
    config: { swagger: { exposeHeadRoute: true } },
    schema: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description: 'Counters and histograms of sends, upstream requests and delivery reports, for Prometheus to scrape. Served on METRICS_PORT instead when that is set.',
      tags: ['operations'],
      security: token === undefined ? [] : [{ metricsToken: [] }],
      response: {
        200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String(), example: '# HELP sms_gateway_messages_total Recipients handled, by outcome (queued, unsent, failed, unknown) and calling client\n# TYPE sms_gateway_messages_total counter\nsms_gateway_messages_total{status="queued",client="billing"} 42\n' } } },
        // Only with a token: without one, /metrics never answers 401.
        ...(token === undefined ? {} : { 401: problemResponse({ code: 'GW_METRICS_AUTH', detail: 'Send METRICS_TOKEN as "Authorization: Bearer <token>".' }, { headers: wwwAuthenticateHeader(METRICS_REALM) }) }),
        503: shuttingDownResponse()
      }
    }
  }, async (_request, reply) => {
    const { registry } = source.metrics
    reply.type(registry.contentType)
    return registry.metrics()
  })
}

/**
 * Serves /metrics on the app's port, or — with METRICS_PORT — on a port of its own (at
 * METRICS_HOST, else HOST), so scrapers can be kept off the public listener. That port is bound
 * while the app gets ready, before the main one: a failure there must stop the start (fastify only
 * logs an onListen hook's error, which left a gateway answering sends with nothing for Prometheus
 * to scrape).
 */
export default async function metricsRoutes (app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const { port, token } = config.metrics
  if (port === undefined) {
    registerMetricsRoute(app, app, token)
    return
  }
  // The same HTTP rules as the app's own listener (timeouts, header limit, pipelining bound, answers
  // not taken, problems for what the parser refuses); only the logger is the app's, so both write
  // one stream.
  const { logger: _ownLogger, ...sameRules } = serverOptions(config)
  const metricsServer = Fastify({ ...sameRules, loggerInstance: app.log.child({ component: 'metrics-server' }), logController: new GatewayLogController() })
  applyConnectionRules(metricsServer.server)
  await metricsServer.register(pipeliningPlugin)
  await metricsServer.register(answerTimeoutPlugin)
  await metricsServer.register(requestLogPlugin)
  await metricsServer.register(problemsPlugin)
  registerMetricsRoute(metricsServer, app, token)
  const host = config.metrics.host ?? config.server.host
  app.addHook('onReady', async () => {
    try {
      await metricsServer.listen({ host, port })
    } catch (error) {
      throw markMetricsListenError(error)
    }
    app.log.info({ host, port }, 'metrics served on their own port')
  })
  app.addHook('onClose', async () => metricsServer.close())
}
