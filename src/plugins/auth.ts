import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { ApiKey } from '../config.js'
import { GatewayError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for routes that callers must authenticate to */
    authenticate: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    /** the calling client's name from API_KEYS; names it in logs, metrics and rate limits */
    client: string
  }
}

export const ANONYMOUS_CLIENT = 'anonymous'

interface StoredKey { name: string, digest: Buffer }

/** Fixed-length digests let secrets of any length be compared with timingSafeEqual. */
export const digestOf = (text: string) => createHash('sha256').update(text).digest()

/** Finds the key's client by comparing digests in constant time against every key, so timing reveals nothing. */
export function findClient (keys: readonly StoredKey[], presented: string): string | undefined {
  const candidate = digestOf(presented)
  let found: string | undefined
  for (const key of keys) {
    if (timingSafeEqual(key.digest, candidate)) found = key.name
  }
  return found
}

export function readBearer (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

export default fp<{ apiKeys: ApiKey[], disabled: boolean }>(async function authPlugin (app, { apiKeys, disabled }) {
  const keys = apiKeys.map(({ name, key }) => ({ name, digest: digestOf(key) }))
  app.decorateRequest('client', ANONYMOUS_CLIENT)
  if (disabled) {
    app.log.warn('AUTH_DISABLED=true: anyone who can reach the gateway can send SMS')
  }

  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    if (disabled) return
    const header = request.headers.authorization
    const presented = readBearer(header)
    if (presented === undefined) {
      throw new GatewayError('GW_AUTH_MISSING', header === undefined
        ? 'Send your API key as "Authorization: Bearer <key>".'
        : 'The Authorization header must be "Bearer <key>".', {}, { 'www-authenticate': 'Bearer realm="sms-gateway"' })
    }
    const client = findClient(keys, presented)
    if (client === undefined) {
      throw new GatewayError('GW_AUTH_INVALID', 'No client has this API key.', {}, { 'www-authenticate': 'Bearer realm="sms-gateway", error="invalid_token"' })
    }
    request.client = client
  })
}, { name: 'auth', fastify: '5.x' })
