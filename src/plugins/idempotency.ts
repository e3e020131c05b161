import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { addLogFields, logCallerLeft } from './request-log.js'
import { headerCount } from '../raw-headers.js'
import type { Config } from '../config.js'
import { GatewayError } from '../errors.js'
import { fingerprintRequest } from '../idempotency/fingerprint.js'
import { MemoryIdempotencyStore } from '../idempotency/memory-store.js'
import { IdempotencyStoreError, type IdempotencyStore, type StoredResponse } from '../idempotency/store.js'
import { StoreRetries } from '../idempotency/store-retries.js'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
/** A key is stored under its client's name (which has no colon: API_KEYS splits at the first) and this. */
const CLIENT_KEY_SEPARATOR = ':'
/** The client whose key it is: one client's answers cannot push another's out of the memory store. */
const clientOfKey = (key: string) => key.slice(0, key.indexOf(CLIENT_KEY_SEPARATOR))
export const OUTCOME_UNKNOWN_DETAIL = 'The result of the first request with this Idempotency-Key could not be confirmed (its gateway may have stopped mid-send, or could not record the result), so which of its messages went out, if any, is unknown. ' +
  'This key will not send them again: look them up by uniqueId in delivery reports or the SerwerSMS panel, and send only the missing ones, under a new key.'
export const REPLAYED_HEADER = 'idempotent-replayed'
/** How long a caller should wait before asking again about a key still in flight. */
const IN_FLIGHT_RETRY_AFTER_SECONDS = 1
/** Added to the longest a send can take: a claim is taken for abandoned only once its request cannot still be running. */
const IN_FLIGHT_MARGIN_MS = 60_000
/** Waits between further attempts at what the store refused (storing an answer, releasing a key); the last repeats. */
const STORE_RETRY_DELAYS_MS = [250, 1000, 2000, 5000, 10_000]
/** Stop retrying this long before the claim's key expires: after that another request may hold it. */
const STORE_RETRY_SAFETY_MS = 5000

declare module 'fastify' {
  interface FastifyInstance {
    idempotency: {
      /** preHandler: claims the key, or replays / refuses a repeat */
      claim: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
      /** onSend: stores the answer under the claimed key */
      remember: (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload: unknown) => void) => void
    }
  }
  interface FastifyRequest {
    idempotencyClaim: Claim | null
  }
  interface FastifyContextConfig {
    /** a route's one spelling of its body: bodies that ask the same, written differently, get one fingerprint */
    idempotentBody?: (body: unknown) => unknown
    /**
     * The spelling an earlier version of the gateway took this body's fingerprint of, where it
     * differs from today's (else undefined): a key it stored still matches a retry of the same
     * body. Read only when the stored fingerprint is not today's.
     */
    formerIdempotentBody?: (body: unknown) => unknown
  }
}

interface Claim {
  key: string
  fingerprint: string
  /** this request's own: a claim that lapsed and was taken by another request is not ours to release */
  token: string
  /** performance.now() when the claim was asked for: the store keeps it claimLifeMs */
  claimedAt: number
}

/** The longest one POST /sms can take: every round of concurrent batches timing out. */
export function longestCallMsFor (config: Config): number {
  const { maxRecipients, batchSize, upstreamConcurrency } = config.sending
  const rounds = Math.ceil(Math.ceil(maxRecipients / batchSize) / upstreamConcurrency)
  return rounds * config.upstream.timeoutMs
}

/** How long a claim says its request runs: the longest call, and a margin for clocks apart. */
export function inFlightTtlFor (config: Config): number {
  return longestCallMsFor(config) + IN_FLIGHT_MARGIN_MS
}

/**
 * True when a problem body proves no SMS left: no recipient `queued` or `unknown`; a 4xx that
 * carries no per-recipient counts at all, which only a request refused before its send began gets
 * (validation, too many recipients); or GW_BUSY, a 503 refused before its send began too. A
 * problem comes only when no batch was accepted, so its `unsent` recipients are numbers the
 * gateway refused itself, never sent either. Only then may the key be used again; anything else —
 * a 5xx without counts included — is remembered and replayed.
 */
export function provesNothingSent (statusCode: number, body: string): boolean {
  if (statusCode < 400) return false
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>
    if (parsed.code === 'GW_BUSY') return true
    if (statusCode < 500 && !('queued' in parsed) && !('unknown' in parsed) && !('unsent' in parsed) && !('failed' in parsed)) return true
    return parsed.queued === 0 && parsed.unknown === 0
  } catch {
    return false
  }
}

/**
 * Only this request is known to have sent nothing: an earlier one with the key may have sent, and
 * a retry without the key would then send again.
 */
export const STORE_UNAVAILABLE_DETAIL = 'The Idempotency-Key cannot be checked right now, so this request sent nothing. An earlier request with this key may have sent: retry later with the same key, never without it.'

function keyReused (): GatewayError {
  return new GatewayError('GW_IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body. A retry must repeat the first body unchanged: the first request may have been sent. Use a new key only for a new message, never for this one written differently (its numbers or date spelt another way), which would send it again.')
}

/**
 * IETF Idempotency-Key semantics for POST /sms: at most one execution per client and key for
 * IDEMPOTENCY_TTL. A repeat with the same body replays the first answer; with another body it
 * is refused (422); while the first is still running it is refused (409) rather than waiting.
 */
export default fp<{ config: Config }>(async function idempotencyPlugin (app, { config }) {
  const ttlMs = config.idempotency.ttlMs
  const inFlightTtlMs = inFlightTtlFor(config)
  // A claim whose request stopped mid-send (a crash, a kill) holds its key, once its running time
  // is over, as long as an answer would: were it to lapse, a retry would send everything again.
  // (Counted from the end of the running time: with a TTL shorter than that, a claim would lapse
  // the moment it could have said "outcome unknown".)
  const claimLifeMs = inFlightTtlMs + ttlMs
  // Imported only with Redis, as src/plugins/redis.ts is: evaluating ioredis at every start grew V8's
  // young generation once more, ~8 MiB an idle gateway kept (bench/README.md, twenty-fourth round).
  const store: IdempotencyStore = app.hasDecorator('redis')
    ? new (await import('../idempotency/redis-store.js')).RedisIdempotencyStore(app.redis, claimLifeMs)
    : new MemoryIdempotencyStore({ maxKeys: config.idempotency.maxKeys, ownerOf: clientOfKey, onEarlyEviction: () => { app.metrics.idempotencyAnswersEvicted.inc() } })
  app.decorateRequest('idempotencyClaim', null)
  /**
   * What the store refused and is retried in the background, by the token of the request it is
   * for (not by key: two requests of one key may both have something waiting): answers to store,
   * keys to release.
   */
  const retries = new StoreRetries({ ping: async () => { await store.ping() }, delaysMs: STORE_RETRY_DELAYS_MS })
  /**
   * Answers this gateway gave but the store has not taken yet, by key: a retry that reaches this
   * gateway meanwhile is answered with them, where the store would say 409 — or, once the claim's
   * running time is over, "outcome unknown", which reads as final.
   */
  const unstoredAnswers = new Map<string, { fingerprint: string, response: StoredResponse }>()
  // The store's connection back (Redis): what waits for it is tried at once, not at its next turn.
  const onStoreReady = () => { retries.wake() }
  if (app.hasDecorator('redis')) app.redis.on('ready', onStoreReady)
  /**
   * Keyed requests from their claim being asked for to the storing of their answer. Closing waits
   * for them: one whose caller hung up holds no connection that would hold the close back, and its
   * answer must still be stored (or its key released) before the store closes — a claim too, that
   * the store grants while the gateway is closing.
   */
  let unanswered = 0
  let allAnswered: (() => void) | undefined
  const answered = () => {
    unanswered--
    if (unanswered === 0) allAnswered?.()
  }

  // Callback hooks that finish at once for the common call without a key; an async hook would
  // cost every send a promise and a microtask. A key goes through the store, asynchronously.
  function claim (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const header = request.headers[IDEMPOTENCY_HEADER]
    if (header === undefined) return done()
    claimKey(request, reply, header).then((replayed) => {
      // A replay has answered the request: the route must not run.
      if (!replayed) done()
    }, done)
  }

  function remember (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload: unknown) => void): void {
    const claimed = request.idempotencyClaim
    if (claimed === null) return done(null, payload)
    request.idempotencyClaim = null
    // The hooks that log and time an answer nobody will receive (request-log, metrics) ran before
    // this one, a route's: a caller who hangs up while the answer is stored is seen here.
    const callerWasThere = !reply.raw.destroyed
    storeAnswer(request, reply, claimed, payload).finally(answered).then(() => {
      if (callerWasThere && reply.raw.destroyed) {
        logCallerLeft(request, reply)
        app.observeUndelivered(request, reply)
      }
      done(null, payload)
    }, (error: Error) => { done(error, payload) })
  }

  /** Claims the key or refuses the request; true when a stored answer was replayed. */
  async function claimKey (request: FastifyRequest, reply: FastifyReply, header: string | string[]): Promise<boolean> {
    if (typeof header !== 'string' || headerCount(request.raw.rawHeaders, IDEMPOTENCY_HEADER) > 1) {
      throw new GatewayError('GW_VALIDATION_FAILED', 'Send one Idempotency-Key header.', { errors: [{ field: 'headers:/idempotency-key', reason: 'is repeated' }] })
    }
    const key = `${request.client}${CLIENT_KEY_SEPARATOR}${header}`
    // A getter that builds a new object on every read: read once.
    const { url, config: { idempotentBody: spell, formerIdempotentBody: formerSpelling } } = request.routeOptions
    const fingerprint = fingerprintRequest(request.method, url ?? '', spell === undefined ? request.body : spell(request.body))
    const isThisRequest = (stored: string): boolean => {
      if (stored === fingerprint) return true
      const former = formerSpelling?.(request.body)
      return former !== undefined && stored === fingerprintRequest(request.method, url ?? '', former)
    }
    // This gateway's own answer, which the store has yet to take: it needs no store to be replayed.
    const unstored = unstoredAnswers.get(key)
    if (unstored !== undefined) {
      if (!isThisRequest(unstored.fingerprint)) throw keyReused()
      replay(request, reply, unstored.response)
      return true
    }
    // Monotonic: only the time since the claim matters, and a wall clock may jump.
    const claimedAt = performance.now()
    const token = randomUUID()
    unanswered++
    let result
    try {
      result = await store.claim(key, fingerprint, { runningMs: inFlightTtlMs, keptMs: claimLifeMs, token })
    } catch (error) {
      request.log.error({ err: { message: (error as Error).message } }, 'idempotency store unavailable')
      // Redis may have taken the claim though its answer never came (timed out, or lost with the
      // connection). Nothing was sent: a key left claimed would answer the caller's retry 409,
      // then "outcome unknown".
      if (error instanceof IdempotencyStoreError && error.claimMayBeHeld) {
        request.log.warn('the idempotency claim may have been taken though its answer was lost; releasing it in the background')
        // Before answered(): a closing that waits for this request then finds the release waiting.
        releaseLater({ key, fingerprint, token, claimedAt })
      }
      answered()
      throw new GatewayError('GW_IDEMPOTENCY_STORE_UNAVAILABLE', STORE_UNAVAILABLE_DETAIL, {}, { 'retry-after': '5' })
    }
    if (result.state === 'claimed') {
      // Answered once its answer is stored or its key released (remember).
      request.idempotencyClaim = { key, fingerprint, token, claimedAt }
      return false
    }
    answered()
    if (!isThisRequest(result.fingerprint)) throw keyReused()
    if (result.state === 'in_flight') {
      throw new GatewayError('GW_IDEMPOTENCY_IN_FLIGHT', 'The first request with this Idempotency-Key is still being processed; retry shortly to get its result.', {}, { 'retry-after': String(IN_FLIGHT_RETRY_AFTER_SECONDS) })
    }
    if (result.state === 'abandoned') throw new GatewayError('GW_IDEMPOTENCY_OUTCOME_UNKNOWN', OUTCOME_UNKNOWN_DETAIL)
    replay(request, reply, result.response)
    return true
  }

  function replay (request: FastifyRequest, reply: FastifyReply, response: StoredResponse): void {
    addLogFields(request, { idempotentReplay: true })
    reply
      .code(response.statusCode)
      .header(REPLAYED_HEADER, 'true')
      .type(response.contentType)
      .send(response.body)
  }

  /** Never fails: the SMS went out whatever the store says, so its answer must still go out. */
  async function storeAnswer (request: FastifyRequest, reply: FastifyReply, claimed: Claim, payload: unknown): Promise<void> {
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined
    if (body !== undefined && provesNothingSent(reply.statusCode, body)) {
      try {
        await store.release(claimed.key, claimed.fingerprint, claimed.token)
      } catch (error) {
        // Nothing was sent: a key left claimed would answer 409, then "outcome unknown".
        request.log.warn({ err: { message: (error as Error).message } }, 'could not release the idempotency key; retrying in the background')
        releaseLater(claimed)
      }
      return
    }
    const contentType = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8')
    const response = { statusCode: reply.statusCode, contentType, body: body ?? '' }
    try {
      await store.complete(claimed.key, claimed.fingerprint, response, ttlMs)
    } catch (error) {
      // The send happened; its answer goes out now, and is stored as soon as the store takes it.
      request.log.error({ err: { message: (error as Error).message } }, 'could not store the idempotent response; retrying in the background')
      unstoredAnswers.set(claimed.key, { fingerprint: claimed.fingerprint, response })
      retryLater(claimed, async () => { await store.complete(claimed.key, claimed.fingerprint, response, ttlMs) }, {
        done: 'stored the idempotent response after the store came back',
        gaveUp: 'gave up storing the idempotent response: retries with this key are told its outcome is unknown until the key expires'
      }, () => { unstoredAnswers.delete(claimed.key) })
    }
  }

  function releaseLater (claimed: Claim): void {
    retryLater(claimed, async () => { await store.release(claimed.key, claimed.fingerprint, claimed.token) }, {
      done: 'released the idempotency key after the store came back',
      gaveUp: 'gave up releasing the idempotency key: retries with it get 409, then "outcome unknown", though nothing was sent'
    })
  }

  /**
   * Keeps trying what the store refused — storing an answer, releasing a key — for as long as the
   * claim still holds the key: retries meanwhile get 409, and once the claim is taken for
   * abandoned, "outcome unknown".
   */
  function retryLater (claimed: Claim, operation: () => Promise<void>, messages: { done: string, gaveUp: string }, settled?: () => void): void {
    const giveUpAt = claimed.claimedAt + claimLifeMs - STORE_RETRY_SAFETY_MS
    const log = app.log.child({ idempotencyKey: claimed.key.slice(claimed.key.indexOf(':') + 1) })
    retries.retry(claimed.token, giveUpAt, operation).then((ended) => {
      if (ended.outcome === 'done') log.info({ attempts: ended.attempts }, messages.done)
      else if (ended.outcome === 'gave-up') log.error(messages.gaveUp)
    }).finally(() => settled?.()).catch(() => {})
  }

  // Closing (after the upstream client has let its requests finish): the answers of keyed sends
  // still under way, then one last attempt at everything the store refused, before the store's
  // connection goes. Within the grace period, after which the process is ended anyway.
  app.addHook('onClose', async () => {
    if (app.hasDecorator('redis')) app.redis.off('ready', onStoreReady)
    if (unanswered > 0) {
      const drained = new Promise<void>((resolve) => { allAnswered = resolve })
      await Promise.race([drained, sleep(config.server.shutdownGraceMs, undefined, { ref: false })])
    }
    const left = await retries.lastAttempts()
    if (left > 0) app.log.error({ keys: left }, 'closing with idempotency keys whose answer is not stored or whose release failed: retries with them get 409, then "outcome unknown"')
  })

  app.decorate('idempotency', { claim, remember })
}, { name: 'idempotency', dependencies: ['auth', 'metrics'], fastify: '5.x' })
