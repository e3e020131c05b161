import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { GatewayError } from '../errors.js'

/**
 * Per-client limits (by API-key name, so a client's replicas share one budget), kept in Redis
 * when it is configured so every gateway replica counts together. Routes opt in with
 * `config: { rateLimit: … }`; the check runs after authentication and before the body is read,
 * so every request counts: replays, refusals and bodies that cannot be parsed included.
 */
/** The 429's detail. The window as configured: the context's `after` is the time left of the current one. */
export function rateLimitedDetail ({ max, windowMs }: Config['rateLimit']): string {
  return `This client may make ${max} requests per ${windowMs / 1000} s (RATE_LIMIT_WINDOW); retry after the Retry-After seconds.`
}

export default fp<{ config: Config }>(async function rateLimitPlugin (app, { config }) {
  const limit = rateLimitedDetail(config.rateLimit)
  await app.register(rateLimit, {
    global: false,
    hook: 'preParsing',
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: (request: FastifyRequest) => request.client,
    enableDraftSpec: true,
    // A store that cannot answer lets the request through rather than fail it: limits are a
    // courtesy, not a safety (idempotency fails closed). With Redis, the store falls back itself.
    skipOnError: true,
    ...(app.hasDecorator('redis') ? { store: redisStoreWithLocalFallback(app) } : {}),
    errorResponseBuilder: () => new GatewayError('GW_RATE_LIMITED', limit)
  })
}, { name: 'rate-limit', dependencies: ['auth', 'metrics'], fastify: '5.x' })

type IncrCallback = (error: Error | null, result: { current: number, ttl: number } | null) => void

/** What @fastify/rate-limit asks of a store. */
export interface RateLimitStore {
  incr: (key: string, callback: IncrCallback, timeWindow: number, max: number) => void
  child: (routeOptions: Record<string, unknown> & { continueExceeding?: boolean, exponentialBackoff?: boolean }) => RateLimitStore
}

/**
 * Counts in Redis, shared by every replica, and in this replica's memory while Redis cannot
 * answer. Skipped on error instead, as the plugin does, every client's limit was gone for the
 * outage (a /dlr flood filling Redis was enough), silently, with RateLimit headers promising a
 * whole budget each time. So each replica limits on its own meanwhile (a client may then get
 * up to the limit from each), says so once per outage and counts the requests so counted.
 */
class FallingBackStore implements RateLimitStore {
  constructor (
    private readonly shared: RateLimitStore,
    private readonly local: RateLimitStore,
    private readonly onFallback: (error: Error) => void,
    private readonly onShared: () => void
  ) {}

  incr (key: string, callback: IncrCallback, timeWindow: number, max: number): void {
    this.shared.incr(key, (error, result) => {
      if (error === null) {
        this.onShared()
        callback(null, result)
        return
      }
      this.onFallback(error)
      this.local.incr(key, callback, timeWindow, max)
    }, timeWindow, max)
  }

  child (routeOptions: Parameters<RateLimitStore['child']>[0]): RateLimitStore {
    return new FallingBackStore(this.shared.child(routeOptions), this.local.child(routeOptions), this.onFallback, this.onShared)
  }
}

const KEY_PREFIX = 'sms-gateway:rate-limit:'

/** The store class the plugin instantiates with its settings (continueExceeding, exponentialBackoff). */
function redisStoreWithLocalFallback (app: FastifyInstance): FastifyRateLimitStoreCtor {
  let fallingBack = false
  const onFallback = (error: Error): void => {
    app.metrics.rateLimitFallbacks.inc()
    if (fallingBack) return
    fallingBack = true
    app.log.warn({ err: { message: error.message } }, 'rate limits counted by this replica alone: Redis cannot count them')
  }
  const onShared = (): void => {
    if (!fallingBack) return
    fallingBack = false
    app.log.info('rate limits counted in Redis again')
  }
  // A class the plugin can `new`: its constructor gives the store made here.
  return class {
    constructor ({ continueExceeding = false, exponentialBackoff = false }: { continueExceeding?: boolean, exponentialBackoff?: boolean }) {
      return new FallingBackStore(new RedisStore(continueExceeding, exponentialBackoff, app.redis, KEY_PREFIX), new LocalStore(continueExceeding, exponentialBackoff), onFallback, onShared)
    }
  } as unknown as FastifyRateLimitStoreCtor
}
