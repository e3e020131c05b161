import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError, pointerToken, validationError } from './errors.js'

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i
const UTF8_NAMES = new Set(['utf-8', 'utf8'])

/** The charset a Content-Type names; the plain type, as most callers send it, has no parameter to read. */
export function charsetOf (contentType: string | undefined): string | undefined {
  return contentType === undefined || !contentType.includes(';') ? undefined : CHARSET.exec(contentType)?.[1]
}

/** A refusal for a body sent compressed: the gateway reads bodies as sent. */
export function unsupportedContentCoding (contentEncoding: string | undefined): GatewayError | undefined {
  // An empty header lists no coding: the body is as sent.
  if (contentEncoding === undefined || ['identity', ''].includes(contentEncoding.trim().toLowerCase())) return undefined
  return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body uncompressed; Content-Encoding ${contentEncoding} is not supported.`)
}

/**
 * Why a JSON body cannot be read as sent, or undefined when it can. fastify's own parser decodes
 * whatever arrives as UTF-8, replacing what is not with U+FFFD, and ignores both the charset and
 * the content coding: a Latin-1 "Café" went to the provider as "Caf\uFFFD". The text of an SMS is
 * sent as written, or refused.
 */
export function unreadableJsonBody (contentType: string | undefined, contentEncoding: string | undefined, body: Buffer): GatewayError | undefined {
  const charset = charsetOf(contentType)
  if (charset !== undefined && !UTF8_NAMES.has(charset.toLowerCase())) {
    return new GatewayError('GW_MEDIA_TYPE_UNSUPPORTED', `Send the body as application/json in UTF-8; charset=${charset} is not supported.`)
  }
  const coded = unsupportedContentCoding(contentEncoding)
  if (coded !== undefined) return coded
  if (!isUtf8(body)) return new GatewayError('GW_BODY_MALFORMED', 'The body is not valid UTF-8.')
  return undefined
}

/** Deeper than this, a refused key is not pointed at: the pointer would be as long as the body. */
const DEEPEST_POINTER = 32
/**
 * Where a key secure-json-parse refuses sits: one that would reach an object's prototype (the
 * body itself, '', when it sits deeper than DEEPEST_POINTER). Walked without recursion: a refused
 * body may nest as deep as its bytes allow.
 */
function forbiddenKeyPointer (root: unknown): string | undefined {
  // The pointer is dropped (undefined) below DEEPEST_POINTER; the walk goes on.
  const stack: Array<[unknown, string | undefined, number]> = [[root, '', 0]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, pointer, depth] = next
    if (value === null || typeof value !== 'object') continue
    for (const key of Object.keys(value)) {
      const nested = (value as Record<string, unknown>)[key]
      const step = pointer === undefined || depth >= DEEPEST_POINTER ? undefined : `${pointer}/${pointerToken(key)}`
      if (key === '__proto__') return step ?? ''
      if (key === 'constructor' && nested !== null && typeof nested === 'object' && Object.hasOwn(nested, 'prototype')) return step === undefined ? '' : `${step}/prototype`
      stack.push([nested, step, depth + 1])
    }
  }
  return undefined
}

/** V8's reasons that quote nothing of the body: where it breaks, or the one character it stopped at. */
const POSITIONED_REASON = /^[^"]{1,100} JSON at position \d+(?: \(line \d+ column \d+\))?$/
const TOKEN_REASON = /^Unexpected token '[^'"]{1,2}'/

/** V8's reason for a JSON syntax error, when it can be told without the excerpt of the body some reasons quote. */
function reasonWithoutExcerpt (message: string): string | undefined {
  if (POSITIONED_REASON.test(message) || message === 'Unexpected end of JSON input') return message
  return TOKEN_REASON.exec(message)?.[0]
}

/**
 * Why fastify's parser refused a body, which its own error does not say: where the JSON breaks
 * (V8's words, less the excerpt of the body some of them quote, which would put a caller's numbers
 * in the log), or which key would have reached a prototype. Called only for a refused body.
 */
export function explainJsonRefusal (text: string): GatewayError {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    const reason = reasonWithoutExcerpt((error as Error).message)
    return new GatewayError('GW_BODY_MALFORMED', reason === undefined ? 'The body is not valid JSON.' : `The body is not valid JSON: ${reason}.`)
  }
  const field = forbiddenKeyPointer(parsed)
  if (field === undefined) return new GatewayError('GW_BODY_MALFORMED', 'The body is not valid JSON.')
  return validationError([field === ''
    ? { field, reason: 'has a key, nested deep, that would reach an object\'s prototype (__proto__, or constructor.prototype)' }
    : { field, reason: 'is not allowed: it would reach an object\'s prototype' }])
}

/** Replaces fastify's application/json parser with one that first checks what unreadableJsonBody checks. */
export function useUtf8JsonParser (app: FastifyInstance): void {
  // Typed for string bodies, but it hands whatever it gets to secure-json-parse, which takes buffers too.
  const parseJson = app.getDefaultJsonParser('error', 'error') as unknown as (request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const unreadable = unreadableJsonBody(request.headers['content-type'], request.headers['content-encoding'], body as Buffer)
    if (unreadable !== undefined) return done(unreadable, undefined)
    parseJson(request, body as Buffer, (error, parsed) => {
      if (error !== null && (body as Buffer).length > 0) return done(explainJsonRefusal((body as Buffer).toString('utf8')), undefined)
      done(error, parsed)
    })
  })
}
