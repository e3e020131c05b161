import { readFile } from 'node:fs/promises'
import { setTimeout } from 'node:timers/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import t, { type Test } from 'tap'
import { Value } from 'typebox/value'
import { parse as parseYaml } from 'yaml'
import { ERROR_CATALOGUE, problemType, type ErrorCode } from '../../src/errors.js'
import { renderOpenApiFiles, type OpenApiFiles } from '../../src/openapi.js'
import { PROBLEM_MEDIA_TYPE } from '../../src/schemas/problem.js'
import type { FaultRule } from '../../src/simulator/simulator.js'
import { authHeader, startGateway, type StartOptions } from '../helper.js'

type Json = Record<string, any>

/** Response headers that only some answers of a status carry. */
const OCCASIONAL_HEADERS = new Set(['idempotent-replayed'])

const files = await renderOpenApiFiles()
const document = JSON.parse(files['openapi.json']) as Json

/** Every response header the document names anywhere, lower-cased: the gateway's own headers. */
const DOCUMENTED_HEADERS = new Set(Object.values(document.paths as Json).flatMap((item) =>
  Object.values(item as Json).flatMap((operation) =>
    Object.values((operation as Json).responses as Json).flatMap((response) =>
      Object.keys(((response as Json).headers ?? {}) as Json).map((name) => name.toLowerCase())))))

/** Every operation of the document, as [label, operation]. */
function operations (doc: Json): Array<[string, Json]> {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation as Json] as [string, Json]))
}

/** A HEAD operation: its answers have no bodies. */
function isHead (label: string): boolean {
  return label.startsWith('HEAD ')
}

/** The schema with its component references replaced by the components (they do not nest further refs' cycles). */
function resolveRefs (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(resolveRefs)
  if (schema === null || typeof schema !== 'object') return schema
  const ref = (schema as Json).$ref
  if (typeof ref === 'string') return resolveRefs(document.components.schemas[ref.replace('#/components/schemas/', '')])
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, resolveRefs(value)]))
}

/** The examples of a media type object, by name. */
function examplesOf (media: Json): Array<[string, unknown]> {
  if ('example' in media) return [['example', media.example]]
  return Object.entries((media.examples ?? {}) as Json).map(([name, example]) => [name, (example as Json).value])
}

t.test('the checked-in document is what the code generates (run `npm run openapi` after changing a route)', async (t) => {
  for (const name of Object.keys(files) as Array<keyof OpenApiFiles>) {
    const checkedIn = await readFile(new URL(`../../openapi/${name}`, import.meta.url), 'utf8').catch(() => '')
    t.equal(checkedIn, files[name], `openapi/${name} is up to date`)
  }
})

t.test('generation is deterministic', async (t) => {
  t.same(await renderOpenApiFiles(), files)
})

t.test('the document is valid OpenAPI 3.1, as JSON and as YAML', async (t) => {
  for (const specification of [structuredClone(document), files['openapi.yaml']]) {
    const validator = new Validator()
    const result = await validator.validate(specification)
    t.same(result.errors, undefined, 'no schema violations')
    t.ok(result.valid)
    t.equal(validator.version, '3.1')
  }
  t.same(parseYaml(files['openapi.yaml']), document, 'the YAML says the same as the JSON')
})

t.test('every operation is documented: id, summary, description, known tag, examples for every body and response', async (t) => {
  const tags = new Set((document.tags as Json[]).map((tag) => tag.name))
  const ids = new Set<string>()
  for (const [label, operation] of operations(document)) {
    t.test(label, async (t) => {
      t.type(operation.operationId, 'string', 'operationId')
      t.notOk(ids.has(operation.operationId), 'operationId is unique')
      ids.add(operation.operationId)
      t.ok(operation.summary, 'summary')
      t.ok(operation.description, 'description')
      t.ok(operation.tags?.length === 1 && tags.has(operation.tags[0]), 'one declared tag')
      for (const parameter of operation.parameters ?? []) t.ok(parameter.description, `parameter ${parameter.name} is described`)
      for (const [type, media] of Object.entries((operation.requestBody?.content ?? {}) as Json)) {
        const examples = examplesOf(media)
        t.ok(examples.length > 0, `request ${type} has an example`)
        const schema = resolveRefs(media.schema) as Json
        for (const [name, property] of Object.entries((schema.properties ?? {}) as Json)) {
          t.ok(property.description, `request field ${name} is described`)
        }
        for (const [name, example] of examples) t.ok(Value.Check(schema, example), `request example ${name} fits the schema`)
      }
      t.ok(Object.keys(operation.responses).length > 0)
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        t.ok(response.description && response.description !== 'Default Response', `${status} is described`)
        for (const [type, media] of Object.entries((response.content ?? {}) as Json)) {
          const examples = examplesOf(media)
          t.ok(examples.length > 0, `${status} ${type} has an example`)
          const schema = resolveRefs(media.schema)
          for (const [name, example] of examples) {
            t.ok(Value.Check(schema as Json, example), `${status} example ${name} fits the schema`)
          }
        }
        for (const [name, header] of Object.entries((response.headers ?? {}) as Json)) t.ok(header.description, `${status} header ${name} is described`)
      }
    })
  }
})

t.test('every error is a problem+json whose examples agree with the error catalogue', async (t) => {
  for (const [label, operation] of operations(document)) {
    if (isHead(label)) continue // no bodies; see the HEAD test below
    for (const [status, response] of Object.entries(operation.responses as Json)) {
      if (Number(status) < 400) continue
      t.same(Object.keys(response.content), [PROBLEM_MEDIA_TYPE], `${label} ${status} is a problem`)
      for (const [name, example] of examplesOf(response.content[PROBLEM_MEDIA_TYPE])) {
        const problem = example as Json
        const entry = ERROR_CATALOGUE[problem.code as ErrorCode]
        t.ok(entry, `${label} ${status} ${name}: a catalogued code`)
        t.equal(problem.status, Number(status), `${label} ${status} ${name}: status`)
        t.equal(entry?.status, Number(status), `${label} ${status} ${name}: the code's status`)
        t.equal(problem.title, entry?.title, `${label} ${status} ${name}: title`)
        t.equal(problem.type, problemType(problem.code), `${label} ${status} ${name}: type`)
        t.match(response.description, `\`${problem.code}\``, `${label} ${status}: the description names ${problem.code}`)
      }
    }
  }
})

t.test('POST /sms documents authentication, idempotency, rate limits and every failure a caller can meet', async (t) => {
  const send = document.paths['/sms'].post
  t.same(send.security, [{ apiKey: [] }])
  t.match(document.components.securitySchemes.apiKey, { type: 'http', scheme: 'bearer' })
  t.match(send.parameters, [{ in: 'header', name: 'idempotency-key', required: false, schema: { minLength: 1, maxLength: 255 } }])
  t.same(Object.keys(send.responses), ['200', '207', '400', '401', '409', '413', '415', '422', '429', '500', '502', '503', '504'])
  const codes = (status: string) => Object.keys(send.responses[status].content[PROBLEM_MEDIA_TYPE].examples)
  t.same(codes('401'), ['GW_AUTH_MISSING', 'GW_AUTH_INVALID'])
  t.same(codes('409'), ['GW_IDEMPOTENCY_IN_FLIGHT', 'GW_IDEMPOTENCY_OUTCOME_UNKNOWN'])
  t.same(codes('422'), ['GW_PROVIDER_REFUSED', 'GW_IDEMPOTENCY_KEY_REUSED'])
  t.same(codes('429'), ['GW_RATE_LIMITED'])
  t.same(codes('503'), ['GW_IDEMPOTENCY_STORE_UNAVAILABLE', 'GW_SHUTTING_DOWN', 'GW_BUSY'])
  for (const status of ['200', '207']) {
    t.same(Object.keys(send.responses[status].headers), ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Idempotent-Replayed'], `${status} headers`)
    t.same(send.responses[status].content['application/json'].schema, { $ref: '#/components/schemas/SendSmsResult' })
  }
  t.same(Object.keys(send.responses['429'].headers), ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'])
  // The limit is checked after authentication, before the body is read: every answer but a 401 has been counted.
  for (const status of Object.keys(send.responses).filter((status) => status !== '401')) {
    const headers = Object.keys(send.responses[status].headers ?? {})
    t.ok(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'].every((name) => headers.includes(name)), `${status} documents RateLimit-*`)
  }
  for (const status of ['422', '502', '504']) {
    t.same(send.responses[status].content[PROBLEM_MEDIA_TYPE].schema, { $ref: '#/components/schemas/SendSmsProblem' }, `${status} carries the outcomes`)
  }
  t.same(send.responses['400'].content[PROBLEM_MEDIA_TYPE].schema, { $ref: '#/components/schemas/Problem' })
})

t.test('every operation documents the 503 its requests get once the gateway is shutting down', async (t) => {
  for (const [label, operation] of operations(document)) {
    const shuttingDown = operation.responses['503']
    if (isHead(label)) t.ok(shuttingDown !== undefined, `${label}: 503`)
    else t.ok(shuttingDown?.content?.[PROBLEM_MEDIA_TYPE]?.examples?.GW_SHUTTING_DOWN !== undefined, `${label}: 503 GW_SHUTTING_DOWN`)
    t.ok(shuttingDown?.headers?.['Retry-After'] !== undefined, `${label}: with Retry-After`)
  }
})

t.test('operations that are not for callers are tagged apart', async (t) => {
  for (const path of ['/healthz', '/readyz', '/metrics']) t.same(document.paths[path].get.tags, ['operations'], path)
  t.same(document.paths['/dlr'].get.tags, ['delivery reports'])
  t.notOk(Object.keys(document.paths).some((path) => path.startsWith('/docs')), 'the docs do not document themselves')
})

t.test('the probes and /metrics document their HEAD twins: the GET\'s answers and headers, no bodies, ids of their own', async (t) => {
  const heads = operations(document).filter(([label]) => isHead(label)).map(([label]) => label)
  t.same(heads, ['HEAD /healthz', 'HEAD /readyz', 'HEAD /metrics'], 'only those probed with HEAD: the other HEAD twins are left out')
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const { get, head } = document.paths[path]
    t.equal(head.operationId, `${get.operationId}Head`, `${path}: ${head.operationId}, camelCase as every other id`)
    t.same(Object.keys(head.responses), Object.keys(get.responses), `${path}: the same statuses`)
    for (const [status, answer] of Object.entries(head.responses as Json)) {
      t.equal(answer.content, undefined, `${path} ${status}: no body`)
      t.same(answer.headers, get.responses[status].headers, `${path} ${status}: the GET's headers`)
    }
  }
  const gw = await startGateway(t)
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const answer = await fetch(`${gw.url}${path}`, { method: 'HEAD' })
    t.ok(Object.hasOwn(document.paths[path].head.responses, String(answer.status)), `HEAD ${path} answers a documented ${answer.status}`)
    t.equal(await answer.text(), '', `HEAD ${path} has no body`)
  }
})

t.test('a running gateway serves the document and Swagger UI', async (t) => {
  const gw = await startGateway(t)
  const json = await fetch(`${gw.url}/docs/json`)
  t.equal(json.status, 200)
  t.match(json.headers.get('content-type'), /^application\/json/)
  const served = await json.json() as Json
  t.same(served.paths['/sms'], document.paths['/sms'], 'POST /sms as checked in')
  t.same(served.components, document.components)
  const yaml = await fetch(`${gw.url}/docs/yaml`)
  t.equal(yaml.status, 200)
  t.same(parseYaml(await yaml.text()), served)
  const ui = await fetch(`${gw.url}/docs`)
  t.equal(ui.status, 200)
  t.match(await ui.text(), /swagger-ui/)
  t.equal((await fetch(`${gw.url}/docs/json`, { headers: authHeader('not-a-key-at-all-0000') })).status, 200, 'the docs need no API key')
})

/**
 * Checks a real answer against the checked-in document: a documented status, a documented media
 * type, a body that fits its schema, the documented headers with fitting values, and none of the
 * gateway's own headers that its status does not document.
 */
async function assertDocumented (t: Test, label: string, response: Response): Promise<void> {
  const [method = '', path = ''] = label.split(' ')
  const documented = document.paths[path]?.[method.toLowerCase()]?.responses?.[String(response.status)] as Json | undefined
  t.ok(documented, `${label} documents ${response.status}`)
  if (documented === undefined) return
  const type = (response.headers.get('content-type') ?? '').split(';', 1)[0] ?? ''
  const media = documented.content?.[type] as Json | undefined
  t.ok(media, `${label} ${response.status} documents ${type}`)
  const text = await response.text()
  const body = type.endsWith('json') ? JSON.parse(text) as unknown : text
  const schema = resolveRefs(media?.schema ?? {}) as Json
  t.ok(Value.Check(schema, body), `${label} ${response.status} body fits its schema`, { errors: [...Value.Errors(schema, body)].slice(0, 5), body })
  if (type === PROBLEM_MEDIA_TYPE) {
    const code = (body as Json).code as string
    t.ok(Object.hasOwn((media?.examples ?? {}) as Json, code), `${label} ${response.status} documents ${code}`)
  }
  for (const [name, header] of Object.entries((documented.headers ?? {}) as Json)) {
    const value = response.headers.get(name)
    if (value === null) {
      t.ok(OCCASIONAL_HEADERS.has(name.toLowerCase()), `${label} ${response.status} sends ${name}, or only sometimes does`)
      continue
    }
    const typed = header.schema.type === 'integer' ? Number(value) : value
    t.ok(Value.Check(header.schema, typed), `${label} ${response.status} ${name}: ${value} fits its schema`)
  }
  const documentedHere = new Set(Object.keys((documented.headers ?? {}) as Json).map((name) => name.toLowerCase()))
  for (const name of response.headers.keys()) {
    if (DOCUMENTED_HEADERS.has(name)) t.ok(documentedHere.has(name), `${label} ${response.status} documents the ${name} it sends`)
  }
}

const sendSms = async (url: string, body: unknown, headers: Record<string, string> = {}) => await fetch(`${url}/sms`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...authHeader(), ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body)
})

const MESSAGE = { to: '+48500600700', text: 'Your code is 4711' }

t.test('the served document gives the lists of POST /sms the configured SMS_MAX_RECIPIENTS, as its 413 does', async (t) => {
  const gw = await startGateway(t, { env: { SMS_MAX_RECIPIENTS: '5' } })
  const served = await (await fetch(`${gw.url}/docs/json`)).json() as Json
  const send = served.paths['/sms'].post as Json
  const body = send.requestBody.content['application/json'].schema as Json
  for (const field of ['to', 'uniqueId']) {
    t.same(body.properties[field].anyOf.map((form: Json) => form.maxItems), [undefined, 5], `${field}: a list of at most 5`)
  }
  t.match(send.responses['413'].content[PROBLEM_MEDIA_TYPE].examples.GW_RECIPIENTS_TOO_MANY.value, { limit: 5, detail: /6 recipients exceed this gateway's limit of 5/ })
  const checkedIn = document.paths['/sms'].post.requestBody.content['application/json'].schema as Json
  t.equal(checkedIn.properties.to.anyOf[1].maxItems, 10_000, 'the checked-in document: the default')
  const six = await sendSms(gw.url, { to: Array.from({ length: 6 }, (_, i) => `+4850060070${i}`), text: 'x' })
  t.equal(six.status, 413, 'one more is refused, as documented')
})

t.test('the served document\'s 429 and RateLimit examples are this gateway\'s limit, as its answers are', async (t) => {
  const gw = await startGateway(t, { env: { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '2 minutes' } })
  const served = await (await fetch(`${gw.url}/docs/json`)).json() as Json
  const tooMany = served.paths['/sms'].post.responses['429'] as Json
  await sendSms(gw.url, MESSAGE)
  const refused = await sendSms(gw.url, MESSAGE)
  t.equal(refused.status, 429)
  t.equal(tooMany.content[PROBLEM_MEDIA_TYPE].examples.GW_RATE_LIMITED.value.detail, ((await refused.json()) as Json).detail, 'the example\'s detail is the answer\'s')
  t.same([tooMany.headers['RateLimit-Limit'].schema.examples, tooMany.headers['RateLimit-Remaining'].schema.examples, tooMany.headers['RateLimit-Reset'].schema.examples], [[1], [0], [120]])
  t.same(document.paths['/sms'].post.responses['429'].headers['RateLimit-Limit'].schema.examples, [600], 'the checked-in document: the default')
})

t.test('with AUTH_DISABLED, the served document asks POST /sms for no key and lists no 401, as the gateway then answers', async (t) => {
  const gw = await startGateway(t, { env: { AUTH_DISABLED: 'true', API_KEYS: undefined } })
  const served = await (await fetch(`${gw.url}/docs/json`)).json() as Json
  const send = served.paths['/sms'].post as Json
  t.same(send.security, [], 'no key')
  t.notOk('401' in send.responses, 'no 401')
  t.same(document.paths['/sms'].post.security, [{ apiKey: [] }], 'the checked-in document (keys required, the default) asks for one')
  t.ok('401' in document.paths['/sms'].post.responses)
  const unkeyed = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(MESSAGE) })
  t.equal(unkeyed.status, 200, 'sent without one')
})

t.test('real answers of POST /sms are what the document says', async (t) => {
  const gw = await startGateway(t, { env: { SMS_BATCH_SIZE: '1', SMS_UPSTREAM_CONCURRENCY: '1' } })
  const url = gw.url
  const ok = await sendSms(url, MESSAGE)
  t.equal(ok.status, 200)
  await assertDocumented(t, 'POST /sms', ok)

  gw.simulator.setFault({ fault: { kind: 'http-error', status: 503 }, afterRequests: 1, times: 1 })
  const partial = await sendSms(url, { to: ['+48500600700', '+48500600701'], text: 'half of it' })
  t.equal(partial.status, 207)
  await assertDocumented(t, 'POST /sms', partial)

  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3101, type: 'SendError', message: 'The message is empty' }, times: 1 })
  const refused = await sendSms(url, MESSAGE)
  t.equal(refused.status, 422)
  await assertDocumented(t, 'POST /sms', refused)

  const first = await sendSms(url, MESSAGE, { 'idempotency-key': 'conformance-1' })
  const replay = await sendSms(url, MESSAGE, { 'idempotency-key': 'conformance-1' })
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  await assertDocumented(t, 'POST /sms', first)
  await assertDocumented(t, 'POST /sms', replay)
  const reused = await sendSms(url, { ...MESSAGE, text: 'another text' }, { 'idempotency-key': 'conformance-1' })
  t.equal(reused.status, 422)
  await assertDocumented(t, 'POST /sms', reused)

  const cases: Array<[string, Response, number]> = [
    ['invalid body', await sendSms(url, { to: [], text: '' }), 400],
    ['malformed JSON', await sendSms(url, '{"to":'), 400],
    ['invalid Idempotency-Key', await sendSms(url, MESSAGE, { 'idempotency-key': 'x'.repeat(256) }), 400],
    ['no API key', await fetch(`${url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(MESSAGE) }), 401],
    ['wrong API key', await sendSms(url, MESSAGE, authHeader('not-a-key-of-anyone-0000')), 401],
    ['not JSON', await fetch(`${url}/sms`, { method: 'POST', headers: { 'content-type': 'text/plain', ...authHeader() }, body: 'hello' }), 415]
  ]
  for (const [name, response, status] of cases) {
    t.equal(response.status, status, name)
    await assertDocumented(t, 'POST /sms', response)
  }
})

t.test('rate-limited and upstream failures are what the document says', async (t) => {
  const cases: Array<[string, StartOptions, number]> = [
    ['rate limited', { env: { RATE_LIMIT_MAX: '1' } }, 429],
    ['provider unreachable', { upstreamUrl: 'http://127.0.0.1:9/' }, 502],
    ['provider too slow', { env: { SERWERSMS_TIMEOUT_MS: '200' }, simulator: { latencyMs: 2000 } }, 504]
  ]
  for (const [name, options, status] of cases) {
    const gw = await startGateway(t, options)
    let response = await sendSms(gw.url, MESSAGE)
    if (status === 429) response = await sendSms(gw.url, MESSAGE)
    t.equal(response.status, status, name)
    await assertDocumented(t, 'POST /sms', response)
  }

  const slow = await startGateway(t, { simulator: { latencyMs: 1000 } })
  const key = { 'idempotency-key': 'conformance-in-flight' }
  const running = sendSms(slow.url, MESSAGE, key)
  while (slow.simulator.stats.inFlight === 0) await setTimeout(5)
  const inFlight = await sendSms(slow.url, MESSAGE, key)
  t.equal(inFlight.status, 409, 'the same key while the first is in flight')
  await assertDocumented(t, 'POST /sms', inFlight)
  t.equal((await running).status, 200)
})

t.test('replays of failed sends are what the document says', async (t) => {
  const gw = await startGateway(t)
  // It may have sent something, so its answer is kept and replayed rather than the key released.
  gw.simulator.setFault({ fault: { kind: 'http-error', status: 500 } })
  const key = { 'idempotency-key': 'conformance-replay-502' }
  t.equal((await sendSms(gw.url, MESSAGE, key)).status, 502, 'a bad answer')
  const replay = await sendSms(gw.url, MESSAGE, key)
  t.equal(replay.headers.get('idempotent-replayed'), 'true', 'a bad answer: replayed')
  await assertDocumented(t, 'POST /sms', replay)

  // A refusal sent nothing, the invalid number the gateway refused itself included: the key is free again.
  gw.simulator.setFault({ fault: { kind: 'provider-error', code: 3101 } })
  const refusedKey = { 'idempotency-key': 'conformance-released-422' }
  const body = { ...MESSAGE, to: ['45616', MESSAGE.to] }
  t.equal((await sendSms(gw.url, body, refusedKey)).status, 422, 'refused, with an unsent recipient')
  gw.simulator.setFault(null)
  const retried = await sendSms(gw.url, body, refusedKey)
  t.equal(retried.status, 200, 'the retry with the same key is sent afresh')
  t.equal(retried.headers.get('idempotent-replayed'), null)
})

/** The body of the named example of a POST /sms problem, as the document shows it. */
function sendSmsExample (status: number, code: ErrorCode): unknown {
  return document.paths['/sms'].post.responses[status].content[PROBLEM_MEDIA_TYPE].examples[code].value
}

t.test('the examples of POST /sms problems are answers the gateway really gives', async (t) => {
  const gw = await startGateway(t)
  const cases: Array<[number, ErrorCode, FaultRule | null, unknown]> = [
    [400, 'GW_VALIDATION_FAILED', null, { ...MESSAGE, sendAt: 'tomorrow' }],
    // No fault: a text the gateway takes (up to 5,000 characters) that is more parts than SerwerSMS sends.
    [422, 'GW_PROVIDER_REFUSED', null, { ...MESSAGE, text: 'x'.repeat(2000) }],
    [502, 'GW_PROVIDER_AUTH_FAILED', { fault: { kind: 'provider-error', code: 1001, type: 'InvalidUser', message: 'Wrong login or password' } }, MESSAGE]
  ]
  for (const [status, code, fault, body] of cases) {
    gw.simulator.setFault(fault)
    const response = await sendSms(gw.url, body)
    t.equal(response.status, status, code)
    t.same(await response.json(), sendSmsExample(status, code), `${code} as in the document`)
  }

  const unreachable = await startGateway(t, { upstreamUrl: 'http://127.0.0.1:9/' })
  t.same(await (await sendSms(unreachable.url, MESSAGE)).json(), sendSmsExample(502, 'GW_UPSTREAM_UNREACHABLE'), 'GW_UPSTREAM_UNREACHABLE as in the document')
})

t.test('a delivery report without its message id is answered as the document shows', async (t) => {
  const gw = await startGateway(t, { deliveryReportsToSelf: true })
  t.equal((await sendSms(gw.url, MESSAGE)).status, 200)
  const issued = new URL(String(gw.simulator.received.at(-1)?.body.dlr_url))
  const signed = new URLSearchParams(['t', 'e', 'sig'].map((name): [string, string] => [name, issued.searchParams.get(name) ?? '']))
  const response = await fetch(`${gw.url}/dlr?${signed}&stan=delivered`)
  t.equal(response.status, 400)
  const example = document.paths['/dlr'].get.responses['400'].content[PROBLEM_MEDIA_TYPE].examples.GW_VALIDATION_FAILED.value
  t.same(await response.json(), example)
  const post = document.paths['/dlr'].post
  t.equal(post.requestBody.required, false, 'POST /dlr documents its body as optional')
  t.notOk(Object.keys(post).some((key) => key.startsWith('x-')), 'and the marker that says so is gone from the document')
  const bodyless = await fetch(`${issued.origin}/dlr?${signed}&smsid=m1&stan=delivered`, { method: 'POST' })
  t.equal(bodyless.status, 200, 'as it is: a POST whose report is all in its URL is taken')
  t.equal(document.paths['/sms'].post.requestBody.required, true)
})

t.test('operations answers are what the document says', async (t) => {
  const gw = await startGateway(t)
  for (const path of ['/healthz', '/readyz', '/metrics']) await assertDocumented(t, `GET ${path}`, await fetch(`${gw.url}${path}`))
  await assertDocumented(t, 'GET /dlr', await fetch(`${gw.url}/dlr?smsid=1c142d81c7&stan=delivered`))
  const report = (type: string, body: string) => fetch(`${gw.url}/dlr`, { method: 'POST', headers: { 'content-type': type }, body })
  await assertDocumented(t, 'POST /dlr', await report('application/json', '{"smsid":'))
  await assertDocumented(t, 'POST /dlr', await report('text/plain', 'smsid=1c142d81c7'))

  const guarded = await startGateway(t, { env: { METRICS_TOKEN: 'metrics-token-0123456789abcdef' } })
  const refused = await fetch(`${guarded.url}/metrics`)
  t.equal(refused.status, 401, 'metrics without the token')
  await assertDocumented(t, 'GET /metrics', refused)
})
