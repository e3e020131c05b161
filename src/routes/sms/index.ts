import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../../config.js'
import { signDeliveryUrl } from '../../dlr/signing.js'
import { GatewayError, validationError, type FieldError } from '../../errors.js'
import { problemResponse } from '../../schemas/problem.js'
import { SendSmsBodySchema, SendSmsResultSchema, type SendSmsBody } from '../../schemas/sms.js'
import { dispatchSms, type SmsOrder } from '../../sms/dispatch.js'

/** A scheduled time this far in the past is a caller's bug, not clock skew. */
const MAX_PAST_SEND_AT_MS = 5 * 60_000

const toList = (value: string | string[]) => typeof value === 'string' ? [value] : value

/** Checks what the schema cannot express and turns the body into an order. */
export function readOrder (body: SendSmsBody, config: Config, now: number): SmsOrder {
  const to = toList(body.to)
  const problems: FieldError[] = []
  const order: SmsOrder = { to, text: body.text }
  if (to.length > config.sending.maxRecipients) {
    throw new GatewayError('GW_RECIPIENTS_TOO_MANY', `${to.length} recipients exceed this gateway's limit of ${config.sending.maxRecipients} per request (SMS_MAX_RECIPIENTS); split them over several requests. Nothing was sent.`, { limit: config.sending.maxRecipients })
  }
  if (body.uniqueId !== undefined) {
    const uniqueIds = toList(body.uniqueId)
    if (uniqueIds.length !== to.length) {
      problems.push({ field: '/uniqueId', reason: `has ${uniqueIds.length} ids for ${to.length} recipients; give one per recipient, in the order of /to` })
    } else {
      const seen = new Map<string, number>()
      uniqueIds.forEach((id, index) => {
        const first = seen.get(id)
        if (first === undefined) seen.set(id, index)
        else if (problems.length < 20) problems.push({ field: `/uniqueId/${index}`, reason: `repeats /uniqueId/${first}; each message needs its own id` })
      })
    }
    order.uniqueIds = uniqueIds
  }
  const sender = body.sender ?? config.upstream.defaultSender
  if (sender !== undefined) order.sender = sender
  for (const flag of ['utf', 'speed'] as const) {
    if (body[flag] === true && sender === undefined) {
      problems.push({ field: `/${flag}`, reason: 'works only for FULL SMS, which needs a sender; set /sender (or SERWERSMS_SENDER)' })
    }
  }
  for (const flag of ['flash', 'test', 'speed', 'vcard', 'utf'] as const) {
    if (body[flag] !== undefined) order[flag] = body[flag]
  }
  if (body.sendAt !== undefined) {
    const sendAt = new Date(body.sendAt)
    if (Number.isNaN(sendAt.getTime())) problems.push({ field: '/sendAt', reason: 'is not a valid date-time' })
    else if (sendAt.getTime() < now - MAX_PAST_SEND_AT_MS) problems.push({ field: '/sendAt', reason: 'is in the past; omit it to send now' })
    else order.sendAt = sendAt
  }
  if (problems.length > 0) throw validationError(problems)
  return order
}

const routes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  const { deliveryReports, sending, defaultRegion } = config
  const { messages, messageParts, batchesPerCall } = app.metrics

  app.post('/sms', {
    onRequest: app.authenticate,
    preHandler: app.idempotency.claim,
    onSend: app.idempotency.remember,
    config: { rateLimit: {} },
    schema: {
      summary: 'Send an SMS to one or many recipients',
      description: 'Validates the message, normalises and de-duplicates the recipients, sends them to SerwerSMS in batches of SMS_BATCH_SIZE and answers with the fate of every recipient. 200: every batch was accepted (individual recipients may still be `unsent`). 207: some batches were not accepted: see each recipient\'s status. When no batch was accepted, a problem (422/502/504) carries the per-recipient outcomes in `messages`.',
      tags: ['sms'],
      security: [{ apiKey: [] }],
      body: SendSmsBodySchema,
      response: {
        200: { description: 'Every batch was accepted by SerwerSMS', ...SendSmsResultSchema },
        207: { description: 'Some batches were accepted, others failed or may not have been sent', ...SendSmsResultSchema },
        400: problemResponse('GW_VALIDATION_FAILED', 'to/0: must NOT have fewer than 1 characters', { errors: [{ field: '/to/0', reason: 'must NOT have fewer than 1 characters' }] }),
        401: problemResponse('GW_AUTH_INVALID', 'No client has this API key.'),
        413: problemResponse('GW_RECIPIENTS_TOO_MANY', '10001 recipients exceed this gateway\'s limit of 10000 per request (SMS_MAX_RECIPIENTS); split them over several requests. Nothing was sent.'),
        422: problemResponse('GW_PROVIDER_REFUSED', 'SerwerSMS refused the request (3101): The message is empty'),
        502: problemResponse('GW_UPSTREAM_UNREACHABLE', 'SerwerSMS could not be reached (ECONNREFUSED); nothing was sent.'),
        504: problemResponse('GW_UPSTREAM_TIMEOUT', 'SerwerSMS did not answer in time; the messages may have been sent.')
      }
    }
  }, async (request, reply) => {
    const now = Date.now()
    const order = readOrder(request.body, config, now)
    const report = await dispatchSms(order, {
      batchSize: sending.batchSize,
      concurrency: sending.upstreamConcurrency,
      defaultRegion,
      deliveryReportUrl: deliveryReportUrlFor(order, now)
    }, app.upstream.sendSms)

    const { result } = report
    const client = request.client
    for (const status of ['queued', 'unsent', 'failed', 'unknown'] as const) {
      if (result[status] > 0) messages.inc({ status, client }, result[status])
    }
    if (result.parts > 0) messageParts.inc({ client }, result.parts)
    batchesPerCall.observe(report.batches)
    request.log.info({ queued: result.queued, unsent: result.unsent, failed: result.failed, unknown: result.unknown, batches: report.batches }, 'sms dispatched')

    if (report.failure !== undefined) {
      const { code, detail, providerError } = report.failure
      throw new GatewayError(code, detail, providerError === undefined ? { ...result } : { providerError, ...result })
    }
    return reply.code(report.acceptedBatches === report.batches ? 200 : 207).send(result)
  })

  function deliveryReportUrlFor (order: SmsOrder, now: number): string | undefined {
    if (deliveryReports.publicUrl === undefined || deliveryReports.secret === undefined) return undefined
    // Latency counts from when the SMS may leave, so scheduled sends are measured from their slot.
    const sentAt = Math.max(now, order.sendAt?.getTime() ?? now)
    return signDeliveryUrl(deliveryReports.publicUrl, deliveryReports.secret, { sentAt, expiresAt: sentAt + deliveryReports.urlTtlMs })
  }
}

export default routes
