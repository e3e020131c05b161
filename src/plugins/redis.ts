import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** present only when REDIS_URL is set: shared state between gateway replicas */
    redis: Redis
  }
}

/** A command that cannot be answered this fast means Redis is in trouble; callers fail closed rather than wait. */
export const REDIS_COMMAND_TIMEOUT_MS = 1000
const REDIS_CONNECT_TIMEOUT_MS = 2000
const MAX_RECONNECT_DELAY_MS = 2000

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
  let healthy = true
  redis.on('error', (err) => {
    if (healthy) app.log.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis connection failed')
    healthy = false
  })
  redis.on('ready', () => {
    if (!healthy) app.log.info('redis connection restored')
    healthy = true
  })
  try {
    await redis.connect()
  } catch (err) {
    // Start anyway: keyed sends fail closed with 503 until Redis is back, unkeyed ones go ahead.
    app.log.error({ err: { message: (err as Error).message } }, 'redis unreachable at start; keyed requests will be refused until it is back')
  }
  app.decorate('redis', redis)
  app.addHook('onClose', async () => { redis.disconnect() })
}, { name: 'redis', fastify: '5.x' })
