/**
 * @fastify/rate-limit's two stores, which the gateway combines (src/plugins/rate-limit.ts). The
 * package has no "exports" map, so the files are importable; it ships no types for them.
 */
declare module '@fastify/rate-limit/store/RedisStore.js' {
  import type { Redis } from 'ioredis'
  import type { RateLimitStore } from '../plugins/rate-limit.js'
  const RedisStore: new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key?: string) => RateLimitStore
  export = RedisStore
}

declare module '@fastify/rate-limit/store/LocalStore.js' {
  import type { RateLimitStore } from '../plugins/rate-limit.js'
  const LocalStore: new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore
  export = LocalStore
}
