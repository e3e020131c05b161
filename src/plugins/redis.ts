import fp from 'fastify-plugin'
import { Redis, ReplyError } from 'ioredis'
import { ConfigError } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** present only when REDIS_URL is set: shared state between gateway replicas */
    redis: Redis
    /** present with `redis`: Redis's eviction settings as read at its last connection */
    redisEviction: RedisEviction
  }
}

/**
 * Whether Redis may evict keys before their TTL: with a `maxmemory` and any policy but
 * `noeviction`, a full Redis drops keys with an expiry first — every idempotency key has one — and
 * a retry of a dropped key sends again. Fields absent while not known (not read yet, or INFO refused).
 */
export interface RedisEviction {
  evictsKeys?: boolean
  maxmemory?: number
  maxmemoryPolicy?: string
}

/** A command that cannot be answered this fast means Redis is in trouble; callers fail closed rather than wait. */
export const REDIS_COMMAND_TIMEOUT_MS = 1000
const REDIS_CONNECT_TIMEOUT_MS = 2000
const MAX_RECONNECT_DELAY_MS = 2000
export const EVICTS_KEYS = 'Redis may evict idempotency keys before they expire (maxmemory is set and maxmemory-policy is not noeviction), and a retry of an evicted key sends again: set maxmemory-policy noeviction (a full Redis then refuses new keyed sends with 503, nothing sent)'
export const EVICTION_UNREAD = 'could not read Redis\'s eviction settings (INFO memory): make sure its maxmemory-policy is noeviction'

export const DATABASE_REFUSED = 'Redis refused the database REDIS_URL names (SELECT): not used until it takes it, and keyed requests are refused meanwhile'

/**
 * Redis's refusal of the SELECT of REDIS_URL's database (past its `databases`, or a server that
 * has only one). ioredis only reports it, and goes on in database 0: with keys other replicas (on
 * a Redis that took the database) do not see, or that something else keeps there.
 */
function isDatabaseRefusal (err: Error): boolean {
  return err instanceof ReplyError && (err as Error & { command?: { name?: string } }).command?.name === 'select' && DATABASE_REFUSALS.test(err.message)
}

/**
 * Redis's words (and Valkey's, KeyDB's) for a database it does not have, or will not select. Any
 * other refusal of the SELECT (NOAUTH: a password missing) is not the database's fault.
 */
const DATABASE_REFUSALS = /DB index is out of range|invalid DB index|SELECT is not allowed/i

/** Redis's refusals of a connection's credentials: a wrong or missing password, or a user without the rights. */
const CREDENTIALS_REFUSALS = /^(?:WRONGPASS|NOAUTH|NOPERM)\b/

/** Reads `INFO memory`'s answer; nothing when it lacks the settings (a Redis-compatible server may). */
export function evictionOf (infoMemory: string): RedisEviction {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(infoMemory)?.[1]?.trim()
  const maxmemory = Number(field('maxmemory'))
  const maxmemoryPolicy = field('maxmemory_policy')
  if (maxmemoryPolicy === undefined || !Number.isSafeInteger(maxmemory)) return {}
  return { evictsKeys: maxmemory > 0 && maxmemoryPolicy !== 'noeviction', maxmemory, maxmemoryPolicy }
}

/** Owns the one Redis connection; commands fail at once while it is down instead of queueing. */
export default fp<{ url: string }>(async function redisPlugin (app, { url }) {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, MAX_RECONNECT_DELAY_MS)
  })
  let eviction: RedisEviction = {}
  // Not known until Redis is reached: a Redis down at start may come back evicting (0 would say it does not).
  app.metrics.redisEvictsKeys.set(-1)
  let infoRefusalLogged = false
  // Read at every connection: a failover or a restart may bring other settings.
  const readEviction = async () => {
    try {
      eviction = evictionOf(await redis.info('memory'))
    } catch (err) {
      eviction = {}
      const refused = err instanceof ReplyError
      // Managed Redis services may rename or disable INFO: said once, not at every reconnection.
      if (!refused || !infoRefusalLogged) app.log.warn({ err: { message: (err as Error).message } }, EVICTION_UNREAD)
      infoRefusalLogged ||= refused
    }
    if (eviction.evictsKeys === true) app.log.error({ maxmemory: eviction.maxmemory, maxmemoryPolicy: eviction.maxmemoryPolicy }, EVICTS_KEYS)
    app.metrics.redisEvictsKeys.set(eviction.evictsKeys === undefined ? -1 : eviction.evictsKeys ? 1 : 0)
  }
  let readingEviction = Promise.resolve()
  let healthy = true
  let databaseRefused: Error | undefined
  let credentialsRefused: Error | undefined
  redis.on('error', (err) => {
    if (err instanceof ReplyError && CREDENTIALS_REFUSALS.test(err.message)) credentialsRefused ??= err
    if (isDatabaseRefusal(err)) {
      databaseRefused = err
      if (healthy) app.log.error({ err: { message: err.message }, database: redis.options.db }, DATABASE_REFUSED)
      healthy = false
      // Before the connection is ready: it is dropped, and tried again as after an outage.
      redis.disconnect(true)
      return
    }
    if (healthy) app.log.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis connection failed')
    healthy = false
  })
  redis.on('ready', () => {
    if (!healthy) app.log.info('redis connection restored')
    healthy = true
    readingEviction = readEviction()
  })
  try {
    await redis.connect()
    // /readyz shows the settings from the start.
    await readingEviction
  } catch (err) {
    if (credentialsRefused !== undefined) {
      redis.disconnect()
      // Its message names no password: Redis's own words, e.g. "WRONGPASS invalid username-password pair or user is disabled."
      throw new ConfigError(`REDIS_URL's credentials were refused by Redis (${credentialsRefused.message}): every keyed send would be refused. Set the password (and user) that Redis expects in REDIS_URL, redis://[user]:password@host:port[/db] (its value is not shown).`)
    }
    if (databaseRefused !== undefined) {
      redis.disconnect()
      throw new ConfigError(`REDIS_URL names database ${redis.options.db ?? 0}, which Redis refused (${databaseRefused.message}); its keys would have gone to database 0. Set REDIS_URL's database to one that Redis has (0 to its "databases" setting less one, 0–15 by default), or leave it out for 0.`)
    }
    // Start anyway: keyed sends fail closed with 503 until Redis is back, unkeyed ones go ahead.
    app.log.error({ err: { message: (err as Error).message } }, 'redis unreachable at start; keyed requests will be refused until it is back')
  }
  app.decorate('redis', redis)
  app.decorate('redisEviction', { getter: () => eviction })
  app.addHook('onClose', async () => { redis.disconnect() })
}, { name: 'redis', dependencies: ['metrics'], fastify: '5.x' })
