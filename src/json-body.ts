import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError } from './errors.js'

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i
const UTF8_NAMES = new Set(['utf-8', 'utf8'])

/**
 * Why a JSON body cannot be read as sent, or undefined when it can. fastify's own parser decodes
 * whatever arrives as UTF-8, replacing what is not with U+FFFD, and ignores both the charset and
 * the content coding: a Latin-1 "Café" went to the provider as "Caf\uFFFD". The text of an SMS is
 * sent as written, or refused.
 */
export function unreadableJsonBody (contentType: string | undefined, contentEncoding: string | undefined, body: Buffer): GatewayError | undefined {
  // The plain type, as most callers send it, has no parameter to read.
  const charset = contentType === undefined || contentType === 'application/json' ? undefined : CHARSET.exec(contentType)?.[1]
  if (charset !== undefined && !UTF8_NAMES.has(charset.toLowerCase())) {
    return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body as application/json in UTF-8; charset=${charset} is not supported.`)
  }
  if (contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity') {
    return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body uncompressed; Content-Encoding ${contentEncoding} is not supported.`)
  }
  if (!isUtf8(body)) return new GatewayError('GW_BODY_MALFORMED', 'The body is not valid UTF-8.')
  return undefined
}

/** Replaces fastify's application/json parser with one that first checks what unreadableJsonBody checks. */
export function useUtf8JsonParser (app: FastifyInstance): void {
  // Typed for string bodies, but it hands whatever it gets to secure-json-parse, which takes buffers too.
  const parseJson = app.getDefaultJsonParser('error', 'error') as unknown as (request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const unreadable = unreadableJsonBody(request.headers['content-type'], request.headers['content-encoding'], body as Buffer)
    if (unreadable !== undefined) return done(unreadable, undefined)
    parseJson(request, body as Buffer, done)
  })
}
