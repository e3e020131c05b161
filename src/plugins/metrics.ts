import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import { MAX_REMEMBERED_REPORTS } from '../dlr/report-dedup.js'
import { DELIVERY_REASONS } from '../dlr/states.js'
import { MAX_BACKLOG_BYTES } from '../line-writer.js'
import { droppedLogLines } from '../logging.js'
import { FastHistogram } from '../metrics-histogram.js'

const PREFIX = 'sms_gateway_'
/** Up to 5 minutes: SERWERSMS_TIMEOUT_MS may be 300 s, and one POST /sms runs several rounds of batches. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
/** Delivery takes seconds to days (an unreachable phone keeps a message pending until it expires); DLR_URL_TTL is 7 days by default. */
const DELIVERY_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600]
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
/**
 * prom-client's gauges that end in `_total`, which Prometheus reserves for counters (promtool's
 * lint refuses them). Each is the sum of a by-type gauge it also exports (`nodejs_active_handles`…),
 * so dropping them loses nothing.
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/** Why /dlr refuses a report: the rejected counter's label values, all exported from the start. */
export const REJECTION_REASONS = ['bad_signature', 'expired', 'unsigned', 'malformed'] as const
export type RejectionReason = typeof REJECTION_REASONS[number]

/** Histograms are observed on every request, so they are FastHistograms, exported through prom-client's registry. */
export function createGatewayMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name)
  const registers = [registry]
  return {
    registry,
    messages: new Counter({
      name: `${PREFIX}messages_total`,
      help: 'Recipients handled, by outcome (queued, unsent, failed, unknown) and calling client',
      labelNames: ['status', 'client'] as const,
      registers
    }),
    testMessages: new Counter({
      name: `${PREFIX}test_messages_total`,
      help: 'Recipients of test sends (test: true: validated by the provider, never sent), by outcome and calling client',
      labelNames: ['status', 'client'] as const,
      registers
    }),
    scheduledMessages: new Counter({
      name: `${PREFIX}scheduled_messages_total`,
      help: 'Recipients queued for a later send time (sendAt in the future), by calling client: their delivery reports come only after it',
      labelNames: ['client'] as const,
      registers
    }),
    messageParts: new Counter({
      name: `${PREFIX}message_parts_total`,
      help: 'SMS parts queued at the provider (what is billed), by calling client',
      labelNames: ['client'] as const,
      registers
    }),
    batchesPerCall: new FastHistogram({
      name: `${PREFIX}upstream_batches_per_call`,
      help: 'Upstream requests one POST /sms was split into',
      buckets: BATCH_BUCKETS,
      registers
    }),
    deliveryReports: deliveryReportsCounter(registers),
    deliveryReportsRejected: rejectedCounter(registers),
    recipientsInFlight: new Gauge({
      name: `${PREFIX}recipients_in_flight`,
      help: 'Recipients of the POST /sms calls this replica is sending, counted from a call\'s start to its answer',
      registers
    }),
    recipientsInFlightLimit: new Gauge({
      name: `${PREFIX}recipients_in_flight_limit`,
      help: 'SMS_MAX_RECIPIENTS_IN_FLIGHT: a call that would take recipients_in_flight past it is refused (503 GW_BUSY, nothing sent)',
      registers
    }),
    busyRefusals: new Counter({
      name: `${PREFIX}busy_refusals_total`,
      help: 'POST /sms calls refused (503 GW_BUSY, nothing sent) because their recipients would have taken this replica past SMS_MAX_RECIPIENTS_IN_FLIGHT, by calling client',
      labelNames: ['client'] as const,
      registers
    }),
    idempotencyAnswersEvicted: new Counter({
      name: `${PREFIX}idempotency_answers_evicted_total`,
      help: 'Answers the in-memory idempotency store dropped before IDEMPOTENCY_TTL to stay within IDEMPOTENCY_MAX_KEYS or 256 MB: a retry with one of those keys sends again',
      registers
    }),
    rateLimitFallbacks: new Counter({
      name: `${PREFIX}rate_limit_fallbacks_total`,
      help: 'Requests whose rate limit this replica counted alone, as Redis could not: meanwhile a client may get up to its limit from each replica',
      registers
    }),
    // Set by the redis plugin at each connection (-1 until the first); 0 without REDIS_URL, where keys live in memory.
    redisEvictsKeys: new Gauge({
      name: `${PREFIX}redis_evicts_keys`,
      help: '1 when Redis has a maxmemory and a maxmemory-policy other than noeviction (idempotency keys may be evicted before IDEMPOTENCY_TTL, and a retry of one sends again), 0 when not or without Redis, -1 when Redis has not told (not reached since the start, or INFO refused); read at each connection',
      registers
    }),
    deliveryReportsEnabled: new Gauge({
      name: `${PREFIX}delivery_reports_enabled`,
      help: '1 when this gateway takes delivery reports (DLR_SECRET is set), else 0: missing reports are only a fault where it is 1',
      registers
    }),
    deliveryReportsDuplicate: new Counter({
      name: `${PREFIX}delivery_reports_duplicate_total`,
      help: 'Authentic delivery reports dropped as repeats of a (message, state) already counted',
      registers
    }),
    deliveryReportsBeforeSend: new Counter({
      name: `${PREFIX}delivery_reports_before_send_total`,
      help: 'Authentic delivery reports that came more than a second before the send time their URL was signed with (replicas\' clocks apart, or an early send), by state: counted in delivery_reports_total, left out of delivery_seconds',
      labelNames: ['status'] as const,
      registers
    }),
    // Without labels, exported at 0 from the start, which its alert's increase() needs.
    deliveryReportsDedupEvicted: new Counter({
      name: `${PREFIX}delivery_reports_dedup_evicted_total`,
      help: `Delivery-report (message, state) pairs a replica without REDIS_URL forgot before DLR_DEDUP_WINDOW ended, to remember no more than ${MAX_REMEMBERED_REPORTS}: a repeat of one is counted again`,
      registers
    }),
    deliverySeconds: deliverySecondsHistogram(registers),
    upstreamRequests: new Counter({
      name: `${PREFIX}upstream_requests_total`,
      help: 'Requests to SerwerSMS, by outcome (refused: the provider refused the caller\'s number or text)',
      labelNames: ['outcome'] as const,
      registers
    }),
    upstreamDuration: new FastHistogram({
      name: `${PREFIX}upstream_request_duration_seconds`,
      help: 'Duration of requests to SerwerSMS, by outcome',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers
    }),
    logLinesDropped: new Counter({
      name: `${PREFIX}log_lines_dropped_total`,
      help: `Log lines never written to stdout: its reader left ${MAX_BACKLOG_BYTES / 1024 / 1024} MiB unread, or it failed (stderr tells when)`,
      registers,
      // The process's stdout writer is made before the app and counts for the whole process: read at each scrape.
      collect () {
        this.reset()
        this.inc(droppedLogLines())
      }
    }),
    httpDuration: new FastHistogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'Duration of requests to the gateway, by method (GET, HEAD, POST, or other), route template (unmatched for none) and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers
    })
  }
}

/** The final states a report's reason is given for (besides `delivered`, reported with none). */
export const FINAL_FAILURE_STATES = ['undelivered', 'unsent'] as const
/** The provider's reasons, and `other` for a word not known. */
export const FAILURE_REASONS = DELIVERY_REASONS.filter((reason) => reason !== 'none')

/**
 * Exported at 0 before the first report: a series that first appears at 1 has no increase() in
 * Prometheus, so the first delivered report after a start would not hold off SmsNoDeliveryReports,
 * nor the first failure of each reason count in SmsDeliveryRatioLow. The final states' series
 * only, each failure with each reason or none: 33, where all states × reasons would be 128 mostly
 * never seen.
 */
function deliveryReportsCounter (registers: Registry[]): Counter<'status' | 'reason'> {
  const counter = new Counter({
    name: `${PREFIX}delivery_reports_total`,
    help: 'Authentic delivery reports counted (repeats dropped), by state and reason',
    labelNames: ['status', 'reason'] as const,
    registers
  })
  counter.inc({ status: 'delivered', reason: 'none' }, 0)
  for (const status of FINAL_FAILURE_STATES) {
    // A failure without a reason too (none given, or one set aside): SmsDeliveryRatioLow counts it.
    for (const reason of ['none', ...FAILURE_REASONS]) counter.inc({ status, reason }, 0)
  }
  return counter
}

/** The states whose delivery latencies are exported at 0 from the start: the final ones, and `sent` (on its way). */
export const LATENCY_STATES_FROM_ZERO = ['delivered', ...FINAL_FAILURE_STATES, 'sent'] as const

/**
 * Exported at 0 before the first report, for the states reports mostly come in: a series that first
 * appears with a count has no increase() in Prometheus, and SmsNoDeliveryReports is held off by the
 * increase of these series. After a restart, a batch whose reports all came before the next scrape
 * fired it, every report received.
 */
function deliverySecondsHistogram (registers: Registry[]): FastHistogram<'status'> {
  const histogram = new FastHistogram({
    name: `${PREFIX}delivery_seconds`,
    help: 'Time from the send to the delivery report, by reported state',
    labelNames: ['status'] as const,
    buckets: DELIVERY_BUCKETS,
    registers
  })
  for (const status of LATENCY_STATES_FROM_ZERO) histogram.zero({ status })
  return histogram
}

/**
 * Each reason is exported at 0 before its first refusal: a series that first appears at 1 has no
 * increase() in Prometheus, so the first burst of refusals after a start would raise no alert.
 */
function rejectedCounter (registers: Registry[]): Counter<'reason'> {
  const counter = new Counter({
    name: `${PREFIX}delivery_reports_rejected_total`,
    help: 'Delivery reports refused, by why',
    labelNames: ['reason'] as const,
    registers
  })
  for (const reason of REJECTION_REASONS) counter.inc({ reason }, 0)
  return counter
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics
    /**
     * Times a request whose answer will never be written, as its caller hung up: for a route's
     * own onSend hook that waits, and after which the caller may be gone (idempotency's).
     */
    observeUndelivered (request: FastifyRequest, reply: FastifyReply): void
  }
}

const UNMATCHED_ROUTE = 'unmatched'
/**
 * The methods the gateway's routes answer (the docs and health routes GET and HEAD, /sms and /dlr
 * POST; none OPTIONS), each its own label value; any other is `other`. As sent, a caller without a
 * key made a series of each of Node's methods, status by status (from 2 series to 87): the label
 * set is now bounded by the routes and their statuses.
 */
export const LABELLED_METHODS = ['GET', 'HEAD', 'POST'] as const
export const OTHER_METHOD = 'other'

/** A request's method as labelled: compared, not looked up, as it is on every request. */
export function methodLabel (method: string): string {
  return method === 'POST' || method === 'GET' || method === 'HEAD' ? method : OTHER_METHOD
}

export default fp(async function metricsPlugin (app) {
  const metrics = createGatewayMetrics()
  app.decorate('metrics', metrics)

  const observeDuration = (request: FastifyRequest, reply: FastifyReply): void => {
    // The route template, never the raw URL, and a known method: the caller's own would be unbounded.
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE
    metrics.httpDuration.observe(
      { method: methodLabel(request.method), route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000
    )
  }
  // Callback hooks, not async ones: they run on every request.
  // fastify runs onResponse once an answer is written, which an answer to a caller who hung up
  // never is (no 'finish', and a destroyed response emits no 'error'); such a request is timed
  // when its answer is ready instead, or the calls a caller gave up on, often the slowest, would
  // be missing from the histogram.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.raw.destroyed) observeDuration(request, reply)
    done(null, payload)
  })
  app.decorate('observeUndelivered', observeDuration)
  app.addHook('onResponse', (request, reply, done) => {
    observeDuration(request, reply)
    done()
  })
}, { name: 'metrics', fastify: '5.x' })
