import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { whenAnswerClosed } from '../../answer-closed.js'
import { ANONYMOUS_CLIENT, type Config } from '../../config.js'
import { DeliveryUrlIssuer } from '../../dlr/signing.js'
import { GatewayError } from '../../errors.js'
import { IdempotentReplayedHeader, rateLimitHeaders, RetryAfterHeader, wwwAuthenticateHeader } from '../../schemas/headers.js'
import { problemResponse } from '../../schemas/problem.js'
import { ITEMS_PER_PIECE, serializeListInPieces } from '../../list-in-pieces.js'
import { RECIPIENT_STATUSES, RecipientResultSchema, SEND_SMS_EXAMPLES, SendSmsBodySchema, SendSmsHeadersSchema, SendSmsProblemSchema, SendSmsResultSchema, type SendSmsBody, type SendSmsResult } from '../../schemas/sms.js'
import { dispatchSms, type SmsOrder } from '../../sms/dispatch.js'
import { canonicalBody, formerCanonicalBody, readOrder } from '../../sms/order.js'
import { RecipientBudget } from '../../sms/recipient-budget.js'
import { maskPhone } from '../../sms/phone.js'
import { API_REALM } from '../../plugins/auth.js'
import { addLogFields } from '../../plugins/request-log.js'
import { rateLimitedDetail } from '../../plugins/rate-limit.js'
import { OUTCOME_UNKNOWN_DETAIL, STORE_UNAVAILABLE_DETAIL } from '../../plugins/idempotency.js'
import { bodyLimitFor } from '../../server-options.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** POST /sms's body once checked beyond its schema */
    smsOrder: SmsOrder | null
  }
}

/** How many of the recipients that were not queued a log line shows, masked, to help whoever reads it. */
const LOGGED_RECIPIENT_SAMPLE = 5
/** What a call refused as busy is told to wait: calls in flight free their recipients as they end, most within seconds. */
const BUSY_RETRY_AFTER_SECONDS = 5

function sampleNotQueued (result: SendSmsResult): string[] {
  const sample: string[] = []
  for (const message of result.messages) {
    if (sample.length === LOGGED_RECIPIENT_SAMPLE) break
    if (message.status !== 'queued') sample.push(`${maskPhone(message.phone)} ${message.status}`)
  }
  return sample
}

const routes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  const { deliveryReports, sending, defaultRegion } = config
  // Documented with this gateway's own limit as the examples.
  const RateLimitHeaders = rateLimitHeaders(config.rateLimit)
  const { messages, testMessages, scheduledMessages, messageParts, batchesPerCall, recipientsInFlight, recipientsInFlightLimit, busyRefusals } = app.metrics
  // Every client's series exported from 0: one that first appears at 1 has no increase() in
  // Prometheus, so a first call after a start whose recipients all failed would raise no alert.
  // A name with several keys (a rotation) is one client.
  const clients = config.auth.disabled ? [ANONYMOUS_CLIENT] : [...new Set(config.auth.apiKeys.map(({ name }) => name))]
  for (const client of clients) {
    for (const status of RECIPIENT_STATUSES) messages.inc({ status, client }, 0)
    messageParts.inc({ client }, 0)
    scheduledMessages.inc({ client }, 0)
    busyRefusals.inc({ client }, 0)
  }
  const budget = new RecipientBudget(sending.maxRecipientsInFlight)
  recipientsInFlightLimit.set(budget.limit)
  recipientsInFlight.set(0)
  app.decorateRequest('smsOrder', null)
  const deliveryUrls = deliveryReports.publicUrl === undefined || deliveryReports.secret === undefined
    ? undefined
    : new DeliveryUrlIssuer(deliveryReports.publicUrl, deliveryReports.secret, deliveryReports.urlTtlMs)
  const { timeZone } = config.upstream
  const orderLimits = { maxRecipients: config.sending.maxRecipients, defaultSender: config.upstream.defaultSender, timeZone }
  // A callback hook: reading the order is synchronous, and an async hook would cost every send a
  // promise and a microtask.
  const readOrderHook = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    try {
      request.smsOrder = readOrder(request.body as SendSmsBody, orderLimits, Date.now())
    } catch (error) {
      return done(error as Error)
    }
    done()
  }

  app.post('/sms', {
    onRequest: app.authenticate,
    // The key first: a retry must get the first answer even where reading the order again would
    // now refuse it (a sendAt gone past; a recipient limit lowered since, as long as the body still
    // fits the body limit, which fastify checks before any hook). A refused order releases its key.
    preHandler: [app.idempotency.claim, readOrderHook],
    onSend: app.idempotency.remember,
    config: { rateLimit: {}, idempotentBody: (body) => canonicalBody(body as SendSmsBody, config.upstream.defaultSender), formerIdempotentBody: (body) => formerCanonicalBody(body as SendSmsBody, config.upstream.defaultSender) },
    schema: {
      operationId: 'sendSms',
      summary: 'Send an SMS to one or many recipients',
      description: 'Validates the message, normalises and de-duplicates the recipients, sends them to SerwerSMS in batches of SMS_BATCH_SIZE and answers with the fate of every recipient.\n\n' +
        '- **200**: every batch was accepted and SerwerSMS answered for every recipient (single recipients may still be `unsent`, e.g. for an invalid number).\n' +
        '- **207**: some batches were not accepted, or an accepted batch left a recipient `unknown` (SerwerSMS\'s answer did not say what became of it): see each recipient\'s `status`; `failed` ones are safe to retry, `unknown` ones may have been sent.\n' +
        '- When no batch was accepted, a problem (422/502/503/504) still carries the counts and per-recipient outcomes in `messages`.\n' +
        '- A gateway that starts shutting down during a call sends no further batches: their recipients come back `failed` (safe to retry elsewhere).\n' +
        '- A call whose recipients would take the gateway past SMS_MAX_RECIPIENTS_IN_FLIGHT (its calls\' recipients together) is refused before anything is sent: 503 `GW_BUSY` with Retry-After.\n\n' +
        'Send an `Idempotency-Key` to make retries safe: a repeat with the same key and body replays the first answer without sending again (a first request that provably sent nothing frees its key instead).',
      tags: ['sms'],
      // As the gateway runs: with AUTH_DISABLED, no key is asked for and no 401 answered.
      security: config.auth.disabled ? [] : [{ apiKey: [] }],
      headers: SendSmsHeadersSchema,
      body: SendSmsBodySchema,
      response: {
        200: {
          description: 'Every batch was accepted by SerwerSMS, which answered for every recipient',
          headers: { ...RateLimitHeaders, ...IdempotentReplayedHeader },
          content: { 'application/json': { schema: SendSmsResultSchema, example: SEND_SMS_EXAMPLES.accepted } }
        },
        207: {
          description: 'Some batches were accepted, others failed or may not have been sent; or an accepted batch left a recipient unknown',
          headers: { ...RateLimitHeaders, ...IdempotentReplayedHeader },
          content: { 'application/json': { schema: SendSmsResultSchema, example: SEND_SMS_EXAMPLES.partial } }
        },
        400: problemResponse([
          { code: 'GW_VALIDATION_FAILED', detail: '/sendAt: must match format "date-time"', extensions: { errors: [{ field: '/sendAt', reason: 'must match format "date-time"' }] } },
          { code: 'GW_BODY_MALFORMED', detail: 'The body is not valid JSON: Expected \',\' or \'}\' after property value in JSON at position 27.' }
        ], { headers: RateLimitHeaders }),
        ...(config.auth.disabled
          ? {}
          : {
              401: problemResponse([
                { code: 'GW_AUTH_MISSING', detail: 'Send your API key as "Authorization: Bearer <key>".' },
                { code: 'GW_AUTH_INVALID', detail: 'No client has this API key.' }
              ], { headers: wwwAuthenticateHeader(API_REALM) })
            }),
        409: problemResponse([
          { code: 'GW_IDEMPOTENCY_IN_FLIGHT', detail: 'The first request with this Idempotency-Key is still being processed; retry shortly to get its result.' },
          { code: 'GW_IDEMPOTENCY_OUTCOME_UNKNOWN', detail: OUTCOME_UNKNOWN_DETAIL }
        ], { headers: { 'Retry-After': Type.Integer({ minimum: 0, description: 'GW_IDEMPOTENCY_IN_FLIGHT only: seconds to wait before asking again. GW_IDEMPOTENCY_OUTCOME_UNKNOWN has none: asking again will not change it', examples: [1] }), ...RateLimitHeaders } }),
        413: problemResponse([
          { code: 'GW_RECIPIENTS_TOO_MANY', detail: `${config.sending.maxRecipients + 1} recipients exceed this gateway's limit of ${config.sending.maxRecipients} per request (SMS_MAX_RECIPIENTS); split them over several requests. Nothing was sent.`, extensions: { limit: config.sending.maxRecipients } },
          { code: 'GW_BODY_TOO_LARGE', detail: `The body exceeds this route's limit of ${bodyLimitFor(config)} bytes; split the recipients over several requests.` }
        ], { headers: RateLimitHeaders }),
        415: problemResponse({ code: 'GW_MEDIA_TYPE_UNSUPPORTED', detail: 'Send the body as application/json, or as a form to /dlr; Content-Type "text/plain" is not accepted.' }, { headers: RateLimitHeaders }),
        422: problemResponse([
          { code: 'GW_PROVIDER_REFUSED', detail: 'SerwerSMS refused the request (3102): Message too long', extensions: SEND_SMS_EXAMPLES.refused },
          { code: 'GW_IDEMPOTENCY_KEY_REUSED', detail: 'This Idempotency-Key was used with a different request body. A retry must repeat the first body unchanged: the first request may have been sent. Use a new key only for a new message, never for this one written differently (its numbers or date spelt another way), which would send it again.' }
          // Never a replay: a refusal sent nothing and frees its key; a reused key is refused before any claim.
        ], { headers: RateLimitHeaders, schema: SendSmsProblemSchema }),
        429: problemResponse({ code: 'GW_RATE_LIMITED', detail: rateLimitedDetail(config.rateLimit) }, { headers: { ...RetryAfterHeader, ...RateLimitHeaders } }),
        500: problemResponse({ code: 'GW_INTERNAL', detail: 'The gateway failed unexpectedly; the incident is in its log.' }, { headers: { ...RateLimitHeaders, ...IdempotentReplayedHeader } }),
        502: problemResponse([
          { code: 'GW_UPSTREAM_UNREACHABLE', detail: 'SerwerSMS could not be reached (ECONNREFUSED); nothing was sent.', extensions: SEND_SMS_EXAMPLES.unreachable },
          { code: 'GW_PROVIDER_AUTH_FAILED', detail: 'SerwerSMS refused the gateway\'s account (1001): Wrong login or password', extensions: SEND_SMS_EXAMPLES.accountRefused },
          { code: 'GW_UPSTREAM_BAD_RESPONSE', detail: 'SerwerSMS answered with HTTP 500 without an error body; the messages may have been sent.', extensions: SEND_SMS_EXAMPLES.badResponse }
        ], { headers: { ...RateLimitHeaders, ...IdempotentReplayedHeader }, schema: SendSmsProblemSchema }),
        503: problemResponse([
          { code: 'GW_IDEMPOTENCY_STORE_UNAVAILABLE', detail: STORE_UNAVAILABLE_DETAIL },
          { code: 'GW_SHUTTING_DOWN', detail: 'The gateway shut down before these recipients were sent; nothing was sent to them. Retry on another instance.', extensions: SEND_SMS_EXAMPLES.withdrawn },
          { code: 'GW_BUSY', detail: `This gateway is sending to ${sending.maxRecipientsInFlight - 1} recipients of the ${sending.maxRecipientsInFlight} it takes at once (SMS_MAX_RECIPIENTS_IN_FLIGHT), and this call's 2 would go past them. Nothing was sent: retry after the Retry-After seconds, with the same Idempotency-Key.`, extensions: { limit: sending.maxRecipientsInFlight } }
          // Never a replay either: nothing was sent, so the key is free (or was never claimed).
        ], { headers: { ...RetryAfterHeader, ...RateLimitHeaders }, schema: SendSmsProblemSchema }),
        504: problemResponse({ code: 'GW_UPSTREAM_TIMEOUT', detail: 'SerwerSMS did not answer in time; the messages may have been sent.', extensions: SEND_SMS_EXAMPLES.timeout }, { headers: { ...RateLimitHeaders, ...IdempotentReplayedHeader }, schema: SendSmsProblemSchema })
      }
    }
  }, async (request, reply) => {
    const order = request.smsOrder!
    const recipients = order.to.length
    if (!budget.take(recipients)) {
      busyRefusals.inc({ client: request.client })
      throw new GatewayError('GW_BUSY', `This gateway is sending to ${budget.inFlight} recipients of the ${budget.limit} it takes at once (SMS_MAX_RECIPIENTS_IN_FLIGHT), and this call's ${recipients} would go past them. Nothing was sent: retry after the Retry-After seconds, with the same Idempotency-Key.`, { limit: budget.limit }, { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) })
    }
    recipientsInFlight.set(budget.inFlight)
    // Held until the call is over and its answer gone too (taken, or its connection closed): an
    // answer its caller has not read yet holds the whole call's memory. Given back however the
    // call ends: a throw, or a caller who hung up (onResponse would miss it).
    const answerGone = whenAnswerClosed(reply.raw)
    try {
      const now = Date.now()
      const report = await dispatchSms(order, {
        batchSize: sending.batchSize,
        concurrency: sending.upstreamConcurrency,
        defaultRegion,
        timeZone,
        deliveryReportUrl: deliveryReportUrlFor(order),
        stopping: app.isClosing
      }, (fields) => app.upstream.sendSms(fields, request.log))

      const { result } = report
      const client = request.client
      // A test send is answered like a real one but never leaves the provider: it is neither a
      // message (no delivery report will come for it) nor billed parts.
      const outcomes = order.test === true ? testMessages : messages
      for (const status of RECIPIENT_STATUSES) {
        // A repeat shares its first occurrence's SMS: counted, it would read as a recipient not sent.
        const count = status === 'unsent' ? result.unsent - (report.repeats ?? 0) : result[status]
        if (count > 0) outcomes.inc({ status, client }, count)
      }
      if (order.test !== true) {
        if (result.parts > 0) messageParts.inc({ client }, result.parts)
        // Their reports come after the send time: the alert on missing reports leaves them out.
        if (result.queued > 0 && order.sendAt !== undefined && order.sendAt.getTime() > now) scheduledMessages.inc({ client }, result.queued)
      }
      batchesPerCall.observe(report.batches)
      const logged: Record<string, unknown> = { queued: result.queued, unsent: result.unsent, failed: result.failed, unknown: result.unknown, batches: report.batches }
      if (order.test === true) logged.test = true
      // Repeats are among the unsent the answer counts, not in sms_gateway_messages_total: named, the line adds up to both.
      if (report.repeats !== undefined) logged.repeats = report.repeats
      // Only when there is one: pino serialises a list (even an empty one) at ~1.4 µs, a third of the line.
      if (result.queued < result.messages.length) logged.notQueued = sampleNotQueued(result)
      addLogFields(request, logged)
      // A long answer (a result or a problem) holds no other caller up while it is written.
      if (result.messages.length > ITEMS_PER_PIECE) await serializeListInPieces(reply, 'messages', result.messages, RecipientResultSchema)

      if (report.failure !== undefined) {
        const { code, detail, providerError } = report.failure
        const extensions = providerError === undefined ? { ...result } : { providerError, ...result }
        throw new GatewayError(code, detail, extensions, code === 'GW_SHUTTING_DOWN' ? { 'retry-after': '1' } : {})
      }
      // A 200 says every recipient's fate is known. An accepted batch whose answer left some out (or
      // listed one twice, or in a status the seed does not know) made them `unknown`: the caller must
      // not read that as success.
      return reply.code(report.acceptedBatches === report.batches && result.unknown === 0 ? 200 : 207).send(result)
    } finally {
      answerGone.then(() => {
        budget.giveBack(recipients)
        recipientsInFlight.set(budget.inFlight)
      })
    }
  })

  function deliveryReportUrlFor (order: SmsOrder): (() => string) | undefined {
    if (deliveryUrls === undefined) return undefined
    // Latency counts from when the SMS may leave: when its batch goes, or a scheduled send's slot.
    const sendAt = order.sendAt?.getTime() ?? 0
    return () => deliveryUrls.urlFor(Math.max(Date.now(), sendAt))
  }
}

export default routes
