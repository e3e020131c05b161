import packageJson from '../../package.json' with { type: 'json' }
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { ProblemSchema } from '../schemas/problem.js'
import { SendSmsProblemSchema, SendSmsResultSchema } from '../schemas/sms.js'

export const DOCS_PREFIX = '/docs'
/**
 * Set on a route schema whose body may be left out (POST /dlr: a report may come all in its query):
 * @fastify/swagger marks every documented body required, so the generated document is mended.
 */
export const OPTIONAL_BODY = 'x-optional-body'

// Imported, not read from disk: in the production bundle this module no longer sits two levels below package.json.
const { version } = packageJson

const DESCRIPTION = `REST gateway in front of [SerwerSMS.pl](https://serwersms.pl): send SMS with a result for every recipient; delivery reports come back signed.

**Authentication**: send your API key as \`Authorization: Bearer <key>\` (use *Authorize* above).

**Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details (\`application/problem+json\`) with a stable \`code\` to switch on; validation problems list the failing fields in \`errors\`.

**Retries**: send an \`Idempotency-Key\` with \`POST /sms\`; repeating it with the same body replays the first answer instead of sending again (unless the first provably sent nothing: then its key is free and the repeat runs afresh).

**Rate limits** are per client; the \`RateLimit-*\` response headers tell how much is left, a 429 tells how long to wait in \`Retry-After\`.

**Before any route**, every path may answer a problem not listed under its operation: 404 \`GW_NOT_FOUND\`, 405 \`GW_METHOD_NOT_ALLOWED\` (with \`Allow\`), 400 \`GW_HTTP_MALFORMED\` (not HTTP) or \`GW_VALIDATION_FAILED\` (no \`Host\`), 408 \`GW_REQUEST_TIMEOUT\`, 417 \`GW_EXPECTATION_FAILED\`, 431 \`GW_HEADERS_TOO_LARGE\`.`

export const OPENAPI_INFO = { title: 'sms-gateway', description: DESCRIPTION, version }

/** Schemas documented once, under components/schemas by their $id, and referenced wherever a route uses them. */
const COMPONENT_SCHEMAS = [ProblemSchema, SendSmsResultSchema, SendSmsProblemSchema]
const COMPONENT_IDS = new Set(COMPONENT_SCHEMAS.map((schema) => '$id' in schema ? schema.$id : undefined))

/**
 * Replaces a component's inline copies by references to it. Routes keep the whole schema inline
 * so that serialization needs no shared schema (the separate metrics server has none); only the
 * document names them, so that generated clients get one `Problem` type instead of one per status.
 */
export function referenceComponents (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(referenceComponents)
  if (value === null || typeof value !== 'object') return value
  const id = (value as { $id?: unknown }).$id
  if (typeof id === 'string' && COMPONENT_IDS.has(id)) return { $ref: `${id}#` }
  return Object.fromEntries(Object.entries(value).map(([key, nested]) => [key, referenceComponents(nested)]))
}

function swaggerUiAssetsDirectory (): string {
  return join(dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json')), 'static')
}

interface ListSchema { anyOf?: Array<{ type?: string, maxItems?: number }> }
interface SendBodySchema { properties?: Record<string, ListSchema> }

/**
 * POST /sms's body as documented: its lists as long as this gateway takes (SMS_MAX_RECIPIENTS).
 * The schema that validates is compiled once for the provider's cap, and the route refuses more
 * than the configured limit itself (413); a client generated from the document should not send it.
 */
export function documentRecipientLimit<T> (body: T, maxRecipients: number): T {
  const { properties = {} } = body as SendBodySchema
  const limited = Object.fromEntries(Object.entries(properties).map(([name, field]) => [name, field.anyOf === undefined
    ? field
    : { ...field, anyOf: field.anyOf.map((form) => form.type === 'array' ? { ...form, maxItems: maxRecipients } : form) }]))
  return { ...body, properties: limited }
}

/** The OpenAPI document is generated from the routes' own schemas; it must be registered before them. */
export default fp<{ maxRecipients: number }>(async function swaggerPlugin (app, { maxRecipients }) {
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      tags: [
        { name: 'sms', description: 'Sending messages' },
        { name: 'delivery reports', description: 'Called by SerwerSMS through the signed URL sent with each message, not by API clients' },
        { name: 'operations', description: 'Health and metrics for orchestrators and monitoring, not for API clients' }
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key issued by the gateway\'s operator (API_KEYS), sent as `Authorization: Bearer <key>`' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the operator set one' }
        }
      }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => typeof json.$id === 'string' ? json.$id : `def-${index}`
    },
    transform: ({ schema, url, route }) => {
      const documented = route.method === 'HEAD' ? headOperation(schema) : url === '/sms' && route.method === 'POST' ? { ...schema, body: documentRecipientLimit(schema.body, maxRecipients) } : schema
      return { schema: referenceComponents(documented) as typeof schema, url }
    },
    transformObject: (document) => markOptionalBodies('openapiObject' in document ? document.openapiObject : document.swaggerObject)
  })
  // Named explicitly rather than left to swagger-ui to find next to its own code: in the production
  // bundle its code is no longer in its package folder, while the files still are (node_modules).
  const assets = swaggerUiAssetsDirectory()
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    baseDir: assets,
    logo: { type: 'image/svg+xml', content: await readFile(join(assets, 'logo.svg')) },
    uiConfig: { deepLinking: true, displayRequestDuration: true, defaultModelsExpandDepth: 0 },
    // swagger-ui's own policy, less what does not fit a gateway served over plain HTTP on an
    // internal network: no upgrade to HTTPS, no framing, no calls to swagger.io's online validator.
    // Its React code sets style attributes, which only 'unsafe-inline' allows; scripts stay strict.
    staticCSP: true,
    transformStaticCSP: (policy) => policy
      .replace(/\s*upgrade-insecure-requests;?/, '')
      .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
      .replace(' validator.swagger.io', '')
      .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
  })
}, { name: 'swagger', fastify: '5.x' })

interface DocumentedSchema { summary?: string, description?: string, response?: Record<string, { description?: string, headers?: unknown }> }

/**
 * A GET's HEAD twin, documented where the route sets `config.swagger.exposeHeadRoute` (load
 * balancers probe with HEAD): the GET's answers and headers without their bodies, under the GET's
 * operationId with `Head`.
 */
function headOperation<T> (schema: T): T {
  const { summary, description, response = {}, operationId, ...rest } = schema as DocumentedSchema & { operationId?: string }
  return {
    ...rest,
    // camelCase like every other id (@fastify/swagger would name it `<id>-head`).
    ...(operationId === undefined ? {} : { operationId: `${operationId.replace(/-head$/, '')}Head` }),
    summary: `${summary ?? ''} (headers only)`,
    description: `${description ?? ''} HEAD answers as GET does, without a body.`.trim(),
    // A response schema of type null is documented without content.
    response: Object.fromEntries(Object.entries(response).map(([status, { description, headers }]) => [status, { description, ...(headers === undefined ? {} : { headers }), type: 'null' }]))
  } as T
}

interface Operation { requestBody?: { required?: boolean }, [OPTIONAL_BODY]?: boolean }

function markOptionalBodies<T extends { paths?: object }> (document: T): T {
  for (const item of Object.values(document.paths ?? {}) as Array<Record<string, Operation>>) {
    for (const operation of Object.values(item)) {
      if (operation[OPTIONAL_BODY] !== true) continue
      if (operation.requestBody !== undefined) operation.requestBody.required = false
      delete operation[OPTIONAL_BODY]
    }
  }
  return document
}
