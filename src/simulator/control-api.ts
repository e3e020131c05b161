import type { FastifyInstance } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import { parseFaultRule, type FaultRule } from './faults.js'

export const CONTROL_PREFIX = '/__simulator'
/** What GET /__simulator/received shows of a credential: anyone who reaches the port may read it. */
export const REDACTED = '[redacted]'

const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization'])
const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(['password'])

interface RecordedRequest { headers: IncomingHttpHeaders, body: Record<string, unknown> }

/** What the control API may do to the simulator it belongs to. */
export interface SimulatorControls {
  setFault (rule: FaultRule | null): void
  currentFault (): FaultRule | null
  setLatency (ms: number): void
  reset (): void
  stats (): object
  received (last: number | undefined): RecordedRequest[]
}

const BAD_REQUEST = 400

/**
 * Lets out-of-process tests and benchmarks drive the simulator over HTTP. Not part of the provider's
 * API; answers in plain JSON, 400 `{ error }` on a bad request.
 */
export function registerControlApi (app: FastifyInstance, controls: SimulatorControls): void {
  app.get(`${CONTROL_PREFIX}/fault`, async () => ({ fault: controls.currentFault() }))

  app.post(`${CONTROL_PREFIX}/fault`, async (request, reply) => {
    const parsed = parseFaultRule(request.body)
    if ('problem' in parsed) return reply.code(BAD_REQUEST).send({ error: parsed.problem })
    controls.setFault(parsed.rule)
    return { fault: parsed.rule }
  })

  app.post(`${CONTROL_PREFIX}/latency`, async (request, reply) => {
    const ms = (request.body as { ms?: unknown } | undefined)?.ms
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      return reply.code(BAD_REQUEST).send({ error: 'body must be {"ms": N} with N >= 0' })
    }
    controls.setLatency(ms)
    return { ms }
  })

  app.get(`${CONTROL_PREFIX}/stats`, async () => controls.stats())

  app.get<{ Querystring: { last?: string } }>(`${CONTROL_PREFIX}/received`, async (request, reply) => {
    const { last } = request.query
    if (last === undefined) return controls.received(undefined).map(redactCredentials)
    const count = Number(last)
    if (!Number.isInteger(count) || count < 0) return reply.code(BAD_REQUEST).send({ error: 'last must be an integer >= 0' })
    return controls.received(count).map(redactCredentials)
  })

  app.post(`${CONTROL_PREFIX}/reset`, async () => {
    controls.reset()
    return { ok: true }
  })
}

/**
 * The request without its credentials: a gateway pointed at this simulator by mistake sends it the
 * operator's real token or password. The in-process records keep them, for tests that check them.
 */
function redactCredentials<T extends RecordedRequest> (request: T): T {
  return { ...request, headers: redact(request.headers, CREDENTIAL_HEADERS), body: redact(request.body, CREDENTIAL_FIELDS) }
}

function redact<T extends object> (fields: T, secret: ReadonlySet<string>): T {
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, secret.has(name) ? REDACTED : value])) as T
}
