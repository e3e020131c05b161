import { Ajv } from 'ajv'
import Fastify, { type RouteOptions } from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { EnvironmentSchema, SimulatorEnvironmentSchema } from '../../src/config.js'
import { serverOptions } from '../../src/server-options.js'
import { testConfig } from '../helper.js'
import { problemResponse } from '../../src/schemas/problem.js'

// The gateway compiles its schemas without checking them against the JSON Schema meta-schema
// (validateSchema: false, for a quicker start: src/server-options.ts, src/config.ts). Ajv still
// refuses a keyword value of the wrong type when it compiles (`minLength: '5'`), but one of the
// right type that the meta-schema forbids (`minLength: -1`, a property listed twice in `required`)
// would compile into a validator that silently checks something else. This is where it is refused.

const metaSchemaCheck = new Ajv({ strict: false })

function problemsOf (schema: unknown): string {
  if (metaSchemaCheck.validateSchema(schema as object) === true) return ''
  return metaSchemaCheck.errorsText(metaSchemaCheck.errors)
}

/** The parts of a request fastify validates with Ajv; a route's other schema keys are OpenAPI's. */
const VALIDATED_PARTS = ['body', 'querystring', 'params', 'headers'] as const

/** Every schema of every route of the gateway as it runs, by where it sits. */
async function routeSchemas (): Promise<Map<string, unknown>> {
  const config = testConfig({ PUBLIC_URL: 'https://gateway.example', DLR_SECRET: 'x'.repeat(32) })
  const server = Fastify(serverOptions(config, { logger: false }))
  const found = new Map<string, unknown>()
  server.addHook('onRoute', function (route: RouteOptions) {
    const methods = ([] as string[]).concat(route.method).join(',')
    const { response, ...validated } = route.schema ?? {}
    for (const part of VALIDATED_PARTS) {
      if (validated[part] !== undefined) found.set(`${methods} ${route.url} ${part}`, validated[part])
    }
    for (const [status, schema] of Object.entries(response ?? {})) found.set(`${methods} ${route.url} response ${status}`, schema)
    // Schemas added with addSchema (referenced by $id) belong to the context the route is in.
    for (const [id, schema] of Object.entries(this.getSchemas())) found.set(`shared ${id}`, schema)
  })
  await server.register(app, { config })
  await server.ready()
  await server.close()
  return found
}

t.test('the check refuses a schema with a wrong keyword value (it can fail)', async (t) => {
  t.not(problemsOf({ type: 'object', properties: { to: { type: 'string', minLength: -1 } } }), '')
  t.not(problemsOf({ type: 'object', required: ['to', 'to'] }), '')
  t.equal(problemsOf({ type: 'object', required: ['to'], properties: { to: { type: 'string', minLength: 5 } } }), '')
})

t.test('every schema the gateway compiles is a valid JSON Schema (draft-07)', async (t) => {
  const schemas = await routeSchemas()
  for (const needed of ['POST /sms body', 'POST /sms headers', 'GET /dlr querystring', 'POST /sms response 200', 'shared Problem']) {
    t.ok(schemas.has(needed), `${needed} is among the ${schemas.size} checked`)
  }
  for (const [where, schema] of schemas) t.equal(problemsOf(schema), '', where)
})

t.test('the configuration schemas are valid JSON Schemas (draft-07)', async (t) => {
  t.equal(problemsOf(EnvironmentSchema), '', 'the gateway environment')
  t.equal(problemsOf(SimulatorEnvironmentSchema), '', 'the simulator environment')
})

t.test('a problem response documents one status, and each code once (its examples are keyed by code)', async (t) => {
  t.throws(() => problemResponse([{ code: 'GW_DLR_EXPIRED', detail: 'a' }, { code: 'GW_DLR_EXPIRED', detail: 'b' }]), { message: 'one response documents each code once' })
  t.throws(() => problemResponse([{ code: 'GW_DLR_EXPIRED', detail: 'a' }, { code: 'GW_NOT_FOUND', detail: 'b' }]), { message: /one response documents one status, not 403 and 404/ })
  t.ok(problemResponse([{ code: 'GW_DLR_EXPIRED', detail: 'a' }, { code: 'GW_DLR_SIGNATURE_INVALID', detail: 'b' }]))
})
