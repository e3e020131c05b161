import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { ANONYMOUS_CLIENT, type ApiKey } from '../config.js'
import { GatewayError } from '../errors.js'
import { headerCount } from '../raw-headers.js'
import { bearerChallenge } from '../schemas/headers.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for routes that callers must authenticate to */
    authenticate: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
  }
  interface FastifyRequest {
    /** the calling client's name from API_KEYS; names it in logs, metrics and rate limits */
    client: string
  }
}

/**
 * Compares a presented secret with a stored one in a time that depends on the stored one's length
 * only: every character is visited and differences are accumulated, never returned early, and the
 * presented text is read in bounds whatever its length. Plain character arithmetic instead of
 * SHA-256 digests and timingSafeEqual: under load a digest per request cost the gateway ~14% of
 * its CPU per send (bench/README.md), far more than this loop.
 */
export function isSameSecret (presented: string, stored: string): boolean {
  const length = presented.length
  let difference = length ^ stored.length
  for (let i = 0; i < stored.length; i++) {
    difference |= stored.charCodeAt(i) ^ (length === 0 ? 0 : presented.charCodeAt(i % length))
  }
  return difference === 0
}

/** Finds the key's client by comparing against every key, so timing reveals neither which nor whether. */
export function findClient (keys: readonly ApiKey[], presented: string): string | undefined {
  let found: string | undefined
  for (const { name, key } of keys) {
    if (isSameSecret(presented, key)) found = name
  }
  return found
}

export function readBearer (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

/** The realm of the API keys' bearer challenge (RFC 6750), also named in the OpenAPI document. */
export const API_REALM = 'sms-gateway'
const CHALLENGE = bearerChallenge(API_REALM)

export default fp<{ apiKeys: ApiKey[], disabled: boolean }>(async function authPlugin (app, { apiKeys, disabled }) {
  app.decorateRequest('client', ANONYMOUS_CLIENT)
  if (disabled) {
    // docker-compose.yml always sets API_KEYS: say that they are not checked, or an operator who
    // sees keys configured would take the gateway for a guarded one.
    app.log.warn(apiKeys.length === 0
      ? 'AUTH_DISABLED=true: anyone who can reach the gateway can send SMS'
      : `AUTH_DISABLED=true: anyone who can reach the gateway can send SMS; the ${apiKeys.length} API_KEYS set are not checked`)
  }

  // A callback hook, not an async one: it runs on every send, and an async hook costs a promise
  // and a microtask each time.
  app.decorate('authenticate', function authenticate (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    if (disabled) return done()
    const header = request.headers.authorization
    if (header !== undefined && headerCount(request.raw.rawHeaders, 'authorization') > 1) {
      return done(new GatewayError('GW_AUTH_INVALID', 'Send one Authorization header, not several.', {}, { 'www-authenticate': `${CHALLENGE}, error="invalid_request"` }))
    }
    const presented = readBearer(header)
    if (presented === undefined) {
      return done(new GatewayError('GW_AUTH_MISSING', header === undefined
        ? 'Send your API key as "Authorization: Bearer <key>".'
        : 'The Authorization header must be "Bearer <key>".', {}, { 'www-authenticate': CHALLENGE }))
    }
    const client = findClient(apiKeys, presented)
    if (client === undefined) {
      return done(new GatewayError('GW_AUTH_INVALID', 'No client has this API key.', {}, { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` }))
    }
    request.client = client
    done()
  })
}, { name: 'auth', fastify: '5.x' })
