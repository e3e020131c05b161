import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Type } from 'typebox'
import { sendsToProvider, type Config } from '../../config.js'
import {
  hasMoreFieldsThan, hasTooManyFields, MAX_REPORT_FIELDS, mayHoldUndecodedEscapes, parseReportForm, parseReportQuery, readSignedFields, reportCharsetOf
} from '../../dlr/report-encoding.js'
import { readReportFields, type ReportReading } from '../../dlr/report-fields.js'
import { ReportDeduplicator } from '../../dlr/report-dedup.js'
import { SharedReportDeduplicator, type ReportSightings } from '../../dlr/shared-report-dedup.js'
import { DeliveryReportVerifier, type Verification } from '../../dlr/signing.js'
import { mapDeliveryReason, mapDeliveryState } from '../../dlr/states.js'
import { GatewayError, validationError, type ErrorCode } from '../../errors.js'
import { charsetOf, unsupportedCoding } from '../../json-body.js'
import type { RejectionReason } from '../../plugins/metrics.js'
import { addLogFields } from '../../plugins/request-log.js'
import { OPTIONAL_BODY } from '../../plugins/swagger.js'
import { problemResponse, shuttingDownResponse, type ProblemExample } from '../../schemas/problem.js'
import { MAX_HEADER_BYTES } from '../../server-options.js'
import { LONGEST_SHOWN_HEADER, shortened } from '../../shortened.js'

const text = (description: string) => Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description }))

/** Everything optional and loosely typed on purpose: the route itself tells malformed from forged. */
const DeliveryReportQuerySchema = Type.Object({
  smsid: text('message id (#SMSID#); also `id`'),
  stan: text('delivery state (#STAN#); also `status`'),
  data: text('time of the state change (#DATA#); also `date`'),
  przyczyna: text('reason for non-delivery (#PRZYCZYNA#); also `reason`'),
  t: text('send time, part of the gateway\'s signature'),
  e: text('expiry, part of the gateway\'s signature'),
  sig: text('the gateway\'s HMAC-SHA256 signature')
}, { additionalProperties: true })

const OK = 'OK'
export const PLAIN_HTTP_PUBLIC_URL = 'PUBLIC_URL is http://, and SerwerSMS pushes delivery reports to it over the internet: every signed report URL crosses it in clear text, and whoever reads one can report any message id and state with it until it expires. Put TLS in front and set PUBLIC_URL to its https:// URL'
export const REPORTS_WITHOUT_PUBLIC_URL = 'DLR_SECRET is set without PUBLIC_URL: sends carry no report URL, and reports are taken only from a URL set in the SerwerSMS panel (npm run dlr-url); sms_gateway_delivery_reports_enabled is 1, so SmsNoDeliveryReports fires if none come. To take no reports, leave DLR_SECRET empty too'
/** The code of the error Node's request stream raises (message 'aborted') when its caller goes away mid-body; fastify answers it as a 400. */
const BODY_ABORTED = 'ECONNRESET'
const MISSING_ID: ProblemExample = { code: 'GW_VALIDATION_FAILED', detail: 'smsid: the message id is missing', extensions: { errors: [{ field: 'querystring:/smsid', reason: 'the message id is missing' }] } }
/**
 * A report is no bigger than the URL it came in, which the header limit bounds: the gateway's own
 * body limit leaves room for 10,000 recipients, and anyone may post to this public route before
 * its signature is checked (~250 ms of CPU to parse that much form).
 */
export const REPORT_BODY_LIMIT = MAX_HEADER_BYTES
const MS_PER_SECOND = 1000
/**
 * How much earlier than its signed send time a report may come and still be the same clock's: a
 * scheduled send leaves at the second its provider `date` names, which drops the milliseconds of
 * the send time signed in its URL (itself rounded down to ISSUED_TIME_RESOLUTION_MS, which only
 * ever makes a report look later).
 */
const SEND_TIME_UNCERTAINTY_MS = MS_PER_SECOND

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The report's signature, found authentic before its body was read (in the URL) or its form
     * decoded (in the form), for the handler and the counting of a later refusal to use.
     */
    reportVerification: Verification | null
  }
}

const routes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  const { secret, dedupWindowMs } = config.deliveryReports
  const { deliveryReports, deliveryReportsRejected, deliveryReportsDuplicate, deliveryReportsDedupEvicted, deliveryReportsBeforeSend, deliverySeconds, deliveryReportsEnabled } = app.metrics
  // Pairs this replica forgets early are counted only where its memory is the only one: with
  // Redis, the shared key still recognises their repeats.
  const dedup: ReportSightings = app.hasDecorator('redis')
    ? new SharedReportDeduplicator(app.redis, dedupWindowMs, new ReportDeduplicator(dedupWindowMs), (error) => {
      app.log.warn({ err: { message: error.message } }, 'redis unavailable: repeated delivery reports are recognised per replica until it is back')
    })
    : new ReportDeduplicator(dedupWindowMs, { onEvicted: (pairs) => { deliveryReportsDedupEvicted.inc(pairs) } })
  const verifier = secret === undefined ? undefined : new DeliveryReportVerifier(secret)
  deliveryReportsEnabled.set(verifier === undefined ? 0 : 1)
  if (config.deliveryReports.publicUrl?.startsWith('http:') === true && sendsToProvider(config.upstream)) app.log.warn(PLAIN_HTTP_PUBLIC_URL)
  if (verifier !== undefined && config.deliveryReports.publicUrl === undefined) {
    // Right for an account whose report URL is set in the SerwerSMS panel; else a leftover that alerts.
    app.log.info(REPORTS_WITHOUT_PUBLIC_URL)
  }
  const verify = (signed: Record<string, unknown>): Verification | NotIssued => verifier === undefined ? NOT_ISSUED : verifier.verify(signed, Date.now())
  app.decorateRequest('reportVerification', null)
  /**
   * The signature comes before anything else is done with a report: a URL that does not carry one
   * the gateway issued (or any, where it issues none) is refused before the body is read, parsed
   * or decoded. Anyone may call this public route, and a 16 KiB form of Latin-2 escapes cost 30
   * times the CPU of such a refusal to decode. A POST whose URL has no `sig` may carry the
   * signature in its body, which is read for it (within REPORT_BODY_LIMIT): the form parser checks
   * it there before it decodes the rest, the handler in a JSON body. Node reads the unread body of
   * a request answered early and sets it aside, as it does for a 404; the connection stays usable.
   */
  const checkSignatureFirst = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const query = request.query as Record<string, unknown>
    if (request.method === 'POST' && !Object.hasOwn(query, 'sig')) return done()
    const verification = verify(query)
    if (!verification.ok) return done(rejectionFor(verification.reason))
    request.reportVerification = verification
    if (hasTooManyFields(query)) return done(tooManyFields('querystring'))
    done()
  }
  /**
   * A form is read in the charset it declares (UTF-8 or Latin-2), or refused with 415, as a JSON
   * body is: compressed, or in a charset this cannot decode. Refused even when the signed URL
   * carries the whole report. A body fills in what the URL lacks (the reason of an undelivered
   * message, say), and taking the URL alone would count that report without it, and its corrected
   * repeat as a duplicate; one rule for every request keeps the push's breakage in the provider's
   * log (a 415 naming its cause) and in the malformed count, rather than half of it answered OK.
   */
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (request, body, done) => {
    const declared = charsetOf(request.headers['content-type'])
    const charset = reportCharsetOf(declared)
    if (charset === undefined) return done(new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the form in UTF-8 or ISO-8859-2; charset=${shortened(declared ?? '', LONGEST_SHOWN_HEADER)} is not supported.`), undefined)
    const coded = unsupportedCoding(request.headers['content-encoding'], request.headers['transfer-encoding'])
    if (coded !== undefined) return done(coded, undefined)
    const text = (body as Buffer).toString('latin1')
    // A signature in the URL was checked before the body was read (checkSignatureFirst); one the
    // form carries is checked on its own fields before the rest of the form is decoded. Such a
    // refusal is the form's "body", for the handler to give: fastify closes the connection of a
    // request whose parser fails, and every anonymous caller refused would open another.
    if (!Object.hasOwn(request.query as object, 'sig')) {
      const verification = verify(readSignedFields(text, charset))
      if (!verification.ok) return done(null, rejectionFor(verification.reason))
      request.reportVerification = verification
    }
    if (hasMoreFieldsThan(text, MAX_REPORT_FIELDS)) return done(null, tooManyFields('body'))
    done(null, parseReportForm(text, charset))
  })
  // The report travels in the URL the gateway issued, whatever a push puts in its body: a body of
  // another type (multipart, as PHP's curl sends an array of fields, or text) is read within the
  // body limit and set aside, and the report read from the query, rather than refused with 415;
  // whatever its coding or charset, since it is never read.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })
  /**
   * Why a refusal is counted as it is. A refusal for a field, or for a body fastify could not read
   * (415, 413, 400: those never reach the handler), is the provider's payload changing only when it
   * came to a URL this gateway signed; anyone may post junk to the public /dlr, and that must not
   * look like the provider's reports going unread.
   */
  const rejectionReasonOf = (request: FastifyRequest, error: FastifyError | GatewayError): RejectionReason => {
    if (error instanceof SignatureRefusal) return error.countedAs
    const verification = request.reportVerification ?? verify(signedFieldsOf(request.query, request.body))
    return verification.ok ? 'malformed' : REFUSAL_BY_VERIFICATION[verification.reason].countedAs
  }
  // Every refusal is counted here, those of a body fastify could not read included; a body cut off
  // by a caller who went away is no report refused.
  app.addHook('onError', (request, _reply, error: FastifyError | GatewayError, done) => {
    const status = error instanceof GatewayError ? error.status : error.statusCode
    if (status !== undefined && status >= 400 && status < 500 && error.code !== BODY_ABORTED) deliveryReportsRejected.inc({ reason: rejectionReasonOf(request, error) })
    done()
  })

  const schema = {
    operationId: 'receiveDeliveryReport',
    summary: 'Receive a delivery report pushed by SerwerSMS',
    description: 'The target of the signed `dlr_url` the gateway sends with every message (when PUBLIC_URL and DLR_SECRET are set); SerwerSMS calls it, API clients do not. The fields come in the query string. Answers the text OK to every authentic report, repeats and unknown ids included. A gateway without DLR_SECRET issues no such URL and refuses every report with 403.',
    tags: ['delivery reports'],
    querystring: DeliveryReportQuerySchema,
    response: {
      200: { description: 'The report was accepted', content: { 'text/plain': { schema: Type.String(), example: OK } } },
      400: problemResponse(MISSING_ID),
      401: problemResponse({ code: 'GW_DLR_SIGNATURE_MISSING', detail: 'The delivery-report URL carries no valid signature.' }),
      403: problemResponse([
        { code: 'GW_DLR_SIGNATURE_INVALID', detail: 'The delivery-report URL signature does not match.' },
        { code: 'GW_DLR_EXPIRED', detail: 'The delivery-report URL has expired.' }
      ]),
      503: shuttingDownResponse()
    }
  }

  const receive = async (request: FastifyRequest) => {
    const now = Date.now()
    const { query, body } = request
    // A form refused before it was decoded (no JSON body is ever an Error).
    if (body instanceof GatewayError) throw body
    const signedInQuery = isSignedInQuery(query, body)
    // Checked already unless the signature came in a JSON body, or is missing from a POST's URL
    // and the POST has no body to carry it.
    const verification = request.reportVerification ?? verify((signedInQuery ? query : body) as Record<string, unknown>)
    if (!verification.ok) throw rejectionFor(verification.reason)
    // A signed body at a URL of too many fields: refused once the signature was found authentic.
    if (hasTooManyFields(query)) throw tooManyFields('querystring')
    // The fields the provider filled into the URL the gateway signed come first: a body only adds
    // those the signed source lacks, and never overrides its message id or state.
    let reading = readReport(signedInQuery, query, body)
    // Only a value that kept its escapes (not UTF-8: Latin-2, from the provider's older systems)
    // has the query parsed again; the reports of ASCII queries never are.
    if (reading.ok && mayHoldUndecodedEscapes(reading.fields)) reading = readReport(signedInQuery, parseReportQuery(request.url), body)
    if (!reading.ok) {
      // Where the refused field was read from; a missing one was looked for in the body when the
      // report came as one, else in the query string.
      const bodySource = signedInQuery ? 1 : 0
      const hasBody = typeof body === 'object' && body !== null
      const inBody = reading.source === undefined ? hasBody : reading.source === bodySource
      const field = inBody ? `/${reading.field}` : `querystring:/${reading.field}`
      throw validationError([{ field, reason: reading.problem }], `${reading.field}: ${reading.problem}`)
    }
    const { messageId, state: rawState, reason: rawReason, date, setAside } = reading.fields
    const status = mapDeliveryState(rawState)
    const reason = mapDeliveryReason(rawReason)
    const sinceSendMs = verification.sentAt === undefined ? undefined : now - verification.sentAt
    const sighting = dedup.firstSighting(messageId, status)
    // Without Redis the answer is at hand: no await, no extra turn of the microtask queue.
    if (!(typeof sighting === 'boolean' ? sighting : await sighting)) {
      deliveryReportsDuplicate.inc()
      // Every word not understood is one pair (message, other): a second one for the same message
      // is a repeat for the counters, but its words must still reach a human.
      const repeat: Record<string, unknown> = { messageId, status, duplicate: true }
      if (status === 'other') repeat.rawState = rawState
      if (reason === 'other') repeat.rawReason = rawReason
      addLogFields(request, repeat)
      return OK
    }
    deliveryReports.inc({ status, reason })
    let latencySeconds: number | undefined
    if (sinceSendMs !== undefined) {
      if (sinceSendMs >= -SEND_TIME_UNCERTAINTY_MS) {
        latencySeconds = Math.max(0, sinceSendMs) / MS_PER_SECOND
        deliverySeconds.observe({ status }, latencySeconds)
      } else {
        deliveryReportsBeforeSend.inc({ status })
        request.log.warn({ messageId, status, secondsBeforeSend: -sinceSendMs / MS_PER_SECOND }, 'delivery report arrived before its send time: the replicas\' clocks disagree, or the provider sent early; left out of sms_gateway_delivery_seconds')
      }
    }
    const logged: Record<string, unknown> = {
      messageId,
      status,
      reason,
      latencySeconds,
      // As the provider wrote it (Polish local time): parsing it per report would cost more than the rest of the report.
      reportedAt: date
    }
    // Unknown words go to the log for a human, never into a label. (Assigned, not spread into the
    // literal above: V8 copies a spread through its runtime, on every report.)
    if (status === 'other') logged.rawState = rawState
    if (reason === 'other') logged.rawReason = rawReason
    if (setAside !== undefined) logged.setAside = setAside
    addLogFields(request, logged)
    return OK
  }

  // The schemas document the fields; the route reads and judges them itself (and counts what it
  // refuses), so Ajv has nothing to add on this hot path.
  const acceptAnything = () => () => true
  // No HEAD twin: fastify would run the handler for it, and a HEAD would count a delivery.
  app.get('/dlr', { schema, validatorCompiler: acceptAnything, exposeHeadRoute: false, onRequest: checkSignatureFirst }, receive)
  app.post('/dlr', {
    validatorCompiler: acceptAnything,
    onRequest: checkSignatureFirst,
    bodyLimit: REPORT_BODY_LIMIT,
    schema: {
      ...schema,
      response: {
        ...schema.response,
        400: problemResponse([
          MISSING_ID,
          { code: 'GW_BODY_MALFORMED', detail: 'The body is not valid JSON: Unexpected end of JSON input.' }
        ]),
        413: problemResponse({ code: 'GW_BODY_TOO_LARGE', detail: `The body exceeds this route's limit of ${REPORT_BODY_LIMIT} bytes.` }),
        // One example a code; the description lists the other refusals.
        415: problemResponse({ code: 'GW_MEDIA_TYPE_UNSUPPORTED', detail: 'Send the form in UTF-8 or ISO-8859-2; charset=windows-1250 is not supported.' })
      },
      operationId: 'receiveDeliveryReportByPost',
      description: 'The target of the signed `dlr_url`, posted to. Fields may come in the query string, a form body or a JSON body; those of the signed URL come first, and a body fills in only the fields it lacks, when it names no other message; a form may be in UTF-8 or ISO-8859-2, and a JSON body in UTF-8, neither compressed (else 415, even when the URL carries every field); a body of any other type is set aside and the fields read from the query string. A query or form value whose bytes are not UTF-8 is read as ISO-8859-2. Answers the text OK to every authentic report, repeats and unknown ids included.',
      [OPTIONAL_BODY]: true,
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      body: Type.Unknown({ description: 'report fields (smsid, stan, data, przyczyna) as a form or JSON object', examples: [{ smsid: '1c142d81c7', stan: 'delivered', data: '2026-11-25 12:00:05' }] })
    }
  }, receive)
}

/**
 * Where the signature travels: in the URL's query as the gateway issued it, or — when a push
 * posts the URL's query as a form body to the bare path — in the body.
 */
function isSignedInQuery (query: unknown, body: unknown): boolean {
  return Object.hasOwn(query as object, 'sig') || typeof body !== 'object' || body === null
}

function readReport (signedInQuery: boolean, query: unknown, body: unknown): ReportReading {
  return signedInQuery ? readReportFields(query, body) : readReportFields(body, query)
}

function signedFieldsOf (query: unknown, body: unknown): Record<string, unknown> {
  return (isSignedInQuery(query, body) ? query : body) as Record<string, unknown>
}

/** A gateway without DLR_SECRET issues no URLs, and every report to it is refused. */
interface NotIssued { ok: false, reason: 'not_issued' }
const NOT_ISSUED: NotIssued = { ok: false, reason: 'not_issued' }
type VerificationFailure = Extract<Verification, { ok: false }>['reason'] | NotIssued['reason']

/** A refusal for the signature, and how the rejected counter counts it. */
class SignatureRefusal extends GatewayError {
  readonly countedAs: RejectionReason

  constructor (code: ErrorCode, detail: string, countedAs: RejectionReason) {
    super(code, detail)
    this.countedAs = countedAs
  }
}

const FORGED = 'The delivery-report URL signature does not match.'

/**
 * How a report whose signature did not verify is refused, and counted. A request without a usable
 * signature, or with one that cannot be one of ours (not the shape of any we issue), is not a
 * report from a URL we issued: counted as unsigned, apart from the rest, so that what anyone can
 * send to a public /dlr is not taken for the provider's reports. Only a signature of our shape
 * that fails is bad_signature: a wrong DLR_SECRET, or someone who has seen our URLs.
 */
const REFUSAL_BY_VERIFICATION: Readonly<Record<VerificationFailure, { code: ErrorCode, detail: string, countedAs: RejectionReason }>> = {
  malformed: { code: 'GW_DLR_SIGNATURE_MISSING', detail: 'The delivery-report URL carries no valid signature.', countedAs: 'unsigned' },
  foreign_signature: { code: 'GW_DLR_SIGNATURE_INVALID', detail: FORGED, countedAs: 'unsigned' },
  expired: { code: 'GW_DLR_EXPIRED', detail: 'The delivery-report URL has expired.', countedAs: 'expired' },
  bad_signature: { code: 'GW_DLR_SIGNATURE_INVALID', detail: FORGED, countedAs: 'bad_signature' },
  // Counted as bad_signature, which the alert ignores where no gateway takes reports.
  not_issued: { code: 'GW_DLR_SIGNATURE_INVALID', detail: 'This gateway issues no delivery-report URLs (DLR_SECRET is not set).', countedAs: 'bad_signature' }
}

function rejectionFor (reason: VerificationFailure): SignatureRefusal {
  const { code, detail, countedAs } = REFUSAL_BY_VERIFICATION[reason]
  return new SignatureRefusal(code, detail, countedAs)
}

/** A query or form of more fields than any report has: malformed, refused before it is parsed. */
function tooManyFields (where: 'querystring' | 'body'): GatewayError {
  const field = where === 'body' ? '' : 'querystring:'
  const what = where === 'body' ? 'The form' : 'The query string'
  return validationError(
    [{ field, reason: `has more than ${MAX_REPORT_FIELDS} fields` }],
    `${what} has more than ${MAX_REPORT_FIELDS} fields, more than any delivery report has.`
  )
}

export default routes
