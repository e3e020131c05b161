import { Type } from 'typebox'

/**
 * Response headers of rate-limited routes (IETF draft RateLimit fields, as @fastify/rate-limit
 * sends them), their examples those of this gateway's limit.
 */
export function rateLimitHeaders ({ max, windowMs }: { max: number, windowMs: number }) {
  return {
    'RateLimit-Limit': Type.Integer({ minimum: 1, description: 'requests this client may make per window (RATE_LIMIT_MAX)', examples: [max] }),
    'RateLimit-Remaining': Type.Integer({ minimum: 0, description: 'requests this client has left in the current window', examples: [max - 1] }),
    'RateLimit-Reset': Type.Integer({ minimum: 0, description: 'seconds until the current window ends', examples: [Math.ceil(windowMs / 1000)] })
  }
}

export const RetryAfterHeader = {
  'Retry-After': Type.Integer({ minimum: 0, description: 'seconds to wait before trying again', examples: [60] })
}

/** The value of a 401's `WWW-Authenticate` (RFC 6750) for the bearer credential of `realm`. */
export function bearerChallenge (realm: string): string {
  return `Bearer realm="${realm}"`
}

/** The challenge of a 401, documented for the bearer credential of `realm`. */
export function wwwAuthenticateHeader (realm: string) {
  return { 'WWW-Authenticate': Type.String({ description: 'how to authenticate (RFC 6750)', examples: [bearerChallenge(realm)] }) }
}

export const IdempotentReplayedHeader = {
  'Idempotent-Replayed': Type.String({ enum: ['true'], description: 'present when this is the stored answer to an earlier request with the same Idempotency-Key: nothing was sent this time' })
}
