import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { createSerwerSmsClient, type SendSmsFields } from '../serwersms/client.js'
import { metricOutcomeOf, UPSTREAM_METRIC_OUTCOMES, type SendSmsOutcome } from '../serwersms/send-sms.js'

export interface UpstreamClient {
  /**
   * One send_sms request; never retried, never throws for upstream trouble. A failure is logged
   * through `log`: the request's logger, so that the line carries the id of the call it belongs to.
   */
  sendSms (fields: SendSmsFields, log?: FastifyBaseLogger): Promise<SendSmsOutcome>
}

declare module 'fastify' {
  interface FastifyInstance {
    upstream: UpstreamClient
  }
}

export interface UpstreamClientOptions {
  config: Config
}

/** Owns the one SerwerSMS client; counts and times every request it makes. */
export default fp<UpstreamClientOptions>(async function upstreamClientPlugin (app, { config }) {
  const simulator = app.hasDecorator('simulator') ? app.simulator : undefined
  const auth = simulator?.auth ?? config.upstream.auth
  if (auth === undefined) throw new Error('upstream credentials are missing (config validation should have caught this)')
  const client = createSerwerSmsClient({
    apiUrl: simulator?.url ?? config.upstream.apiUrl,
    auth,
    timeoutMs: config.upstream.timeoutMs
  })
  const { upstreamRequests, upstreamDuration } = app.metrics
  // Each outcome exported from 0: a series that first appears at 1 has no increase() in Prometheus,
  // so the first timeouts after a start would raise no alert.
  for (const outcome of UPSTREAM_METRIC_OUTCOMES) upstreamRequests.inc({ outcome }, 0)

  app.decorate('upstream', {
    async sendSms (fields, log = app.log) {
      const started = performance.now()
      const result = await client.sendSms(fields)
      const seconds = (performance.now() - started) / 1000
      const outcome = metricOutcomeOf(result)
      upstreamRequests.inc({ outcome })
      upstreamDuration.observe({ outcome }, seconds)
      if (result.outcome !== 'ok') {
        log.warn({ upstream: describeForLog(result), recipients: fields.phone.length, ms: Math.round(seconds * 1000) }, 'upstream send_sms failed')
      }
      return result
    }
  } satisfies UpstreamClient)

  app.addHook('onClose', async () => { await client.close() })
}, { name: 'upstream-client', dependencies: ['metrics'], fastify: '5.x' })

function describeForLog (result: Exclude<SendSmsOutcome, { outcome: 'ok' }>) {
  switch (result.outcome) {
    case 'provider_error': return { outcome: result.outcome, code: result.error.code, type: result.error.type, message: result.error.message }
    case 'bad_response': return { outcome: result.outcome, statusCode: result.statusCode, detail: result.detail }
    default: return { outcome: result.outcome, requestSent: result.requestSent, detail: result.detail }
  }
}
