import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify'
import { setMaxListeners } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { CONTROL_PREFIX, registerControlApi } from './control-api.js'
import { DeliveryReportPusher, type SimulatedDeliveryState } from './delivery-reports.js'
import {
  FaultSchedule, JSON_CONTENT_TYPE, addExtraFields, cannedFaultResponse, parseFaultRule, truncateBody,
  type FaultRule, type SimulatorFault
} from './faults.js'
import { PROVIDER_ERRORS, providerError } from './provider-errors.js'
import { RecentEntries } from './recent-requests.js'
import { processSendSms, type SendSmsOutcome, type SimulatorCredentials } from './send-sms.js'
import { instantOfProviderDate, PROVIDER_TIME_ZONE } from '../sms/send-date.js'
import { pathOf } from '../url-path.js'

export type { FaultRule, SimulatedDeliveryState, SimulatorFault }

export interface SimulatorOptions {
  /** default '127.0.0.1' */
  host?: string
  /** default 0 (ephemeral) */
  port?: number
  /** accepted credentials; when omitted any non-empty Bearer token or non-empty username + password is accepted */
  credentials?: SimulatorCredentials
  /** added to every send_sms answer (default 0) */
  latencyMs?: number
  deliveryReports?: false | {
    /** default 1000 */
    delayMs?: number
    /** weights, default delivered 1 */
    mix?: Partial<Record<SimulatedDeliveryState, number>>
    /** default GET */
    method?: 'GET' | 'POST'
    /** push every report twice, like a provider retrying */
    duplicate?: boolean
  }
  /** IANA zone in which a scheduled send's `date` is read, as the gateway's SERWERSMS_TIME_ZONE (default Europe/Warsaw) */
  timeZone?: string
  /** keep the last N send_sms requests for tests (default 1000) */
  recordRequests?: number | false
  /** longer texts get error 3102 (default 10) */
  maxParts?: number
  logger?: Logger | false
}

export interface ReceivedSend { at: number, path: string, headers: IncomingHttpHeaders, body: Record<string, unknown> }

export interface SimulatorStats {
  requests: number
  sendRequests: number
  messagesQueued: number
  messagesUnsent: number
  testMessages: number
  deliveryReportsSent: number
  deliveryReportsFailed: number
  inFlight: number
}

export interface Simulator {
  /** base URL with trailing slash, e.g. 'http://127.0.0.1:41234/' */
  readonly url: string
  readonly received: readonly ReceivedSend[]
  /** a fresh copy of the live numbers */
  readonly stats: SimulatorStats
  setFault (rule: FaultRule | null): void
  setLatency (ms: number): void
  /** clears received, stats (except inFlight), the fault and the delivery reports not yet started */
  reset (): void
  /** resolves when every scheduled delivery report has been pushed (or failed) */
  flushDeliveryReports (): Promise<void>
  /** stops listening, destroys hanging sockets, cancels pending reports */
  close (): Promise<void>
}

const SEND_PATHS = ['/messages/send_sms', '/messages/send_sms.json']
/** room for 100,000 numbers with unique ids */
export const MAX_BODY_BYTES = 20 * 1024 * 1024
const DEFAULT_HOST = '127.0.0.1'
const DEFAULT_RECORDED_REQUESTS = 1000
const DEFAULT_MAX_PARTS = 10
const OK = 200
const BAD_REQUEST = 400
const PAYLOAD_TOO_LARGE = 413
const INTERNAL_ERROR = 500
const FORM_ARRAY_KEY = /^(.+)\[\d*\]$/
const JSON_START = /^\s*[[{"]|^\s*(?:null|true|false|-?\d)/

/**
 * A stand-in for SerwerSMS `messages/send_sms` on a real socket, that can be told to misbehave.
 * Provider errors are answered with HTTP 200, as every other answer of the provider; only faults,
 * and bodies over MAX_BODY_BYTES (413), use another status.
 * @see ../../../shared/seeds/serwersms-send_sms.txt
 */
export async function startSimulator (options: SimulatorOptions = {}): Promise<Simulator> {
  const logger = options.logger === false ? undefined : options.logger
  const credentials = hasCredentials(options.credentials) ? options.credentials : undefined
  const maxParts = options.maxParts ?? DEFAULT_MAX_PARTS
  const recent = new RecentEntries<ReceivedSend>(options.recordRequests === false ? 0 : options.recordRequests ?? DEFAULT_RECORDED_REQUESTS)
  const faults = new FaultSchedule()
  const counters: SimulatorStats = emptyStats()
  const hanging = new Set<Socket>()
  const closing = new AbortController()
  // every delayed answer listens for close
  setMaxListeners(0, closing.signal)
  const timeZone = options.timeZone ?? PROVIDER_TIME_ZONE
  let latencyMs = checkLatency(options.latencyMs ?? 0)
  const pusher = options.deliveryReports === false || options.deliveryReports === undefined
    ? undefined
    : new DeliveryReportPusher(options.deliveryReports, (ok, count) => {
      if (ok) counters.deliveryReportsSent += count
      else counters.deliveryReportsFailed += count
    }, logger)

  const app = Fastify({
    ...(logger === undefined ? { logger: false } : { loggerInstance: logger as FastifyBaseLogger }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    forceCloseConnections: true,
    exposeHeadRoutes: false,
    routerOptions: { ignoreTrailingSlash: true }
  })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    parseJson(body as string, done)
  })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseForm(body as string))
  })
  // the provider is lenient about the content type; so is the simulator
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    if (JSON_START.test(body as string)) parseJson(body as string, done)
    else done(null, parseForm(body as string))
  })

  const record = (request: FastifyRequest, body: Record<string, unknown>): void => {
    recent.push({ at: Date.now(), path: pathOf(request.url), headers: request.headers, body })
  }

  const count = (outcome: SendSmsOutcome, body: Record<string, unknown>, now: number): void => {
    if (!outcome.accepted) return
    if (outcome.test) {
      counters.testMessages += outcome.queued
      return
    }
    counters.messagesQueued += outcome.queued
    counters.messagesUnsent += outcome.unsent
    // A scheduled send is reported on after its `date`, as the provider sends it only then.
    const sendAt = typeof body.date === 'string' && body.date !== '' ? instantOfProviderDate(body.date, timeZone) : undefined
    if (pusher !== undefined && outcome.dlrUrl !== undefined) pusher.schedule(outcome.dlrUrl, outcome.queuedIds, now, sendAt)
  }

  const answer = (reply: FastifyReply, fault: SimulatorFault | undefined, outcome: SendSmsOutcome): FastifyReply => {
    if (fault?.kind === 'truncated') return reply.type(JSON_CONTENT_TYPE).send(truncateBody(JSON.stringify(outcome.body)))
    if (fault?.kind === 'extra-fields') return reply.send(addExtraFields(outcome.body))
    return reply.send(outcome.body)
  }

  const handleSend = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    counters.requests++
    counters.sendRequests++
    counters.inFlight++
    let hangs = false
    try {
      // Some HTTP-to-SMS gateways (Kannel's generic SMSC among them) can only send GET with a query.
      const body = request.method === 'GET' ? parseForm(queryOf(request.url)) : isRecord(request.body) ? request.body : {}
      record(request, body)
      const fault = faults.next()
      const delayMs = latencyMs + (fault?.kind === 'slow' ? fault.delayMs : 0)
      if (delayMs > 0) {
        try {
          await sleep(delayMs, undefined, { signal: closing.signal })
        } catch {
          return dropConnection(request, reply)
        }
      }
      if (fault?.kind === 'reset') return dropConnection(request, reply)
      if (fault?.kind === 'hang') {
        hangs = true
        hang(request, reply)
        return undefined
      }
      const canned = fault === undefined ? undefined : cannedFaultResponse(fault)
      if (canned !== undefined) return reply.code(canned.status).type(canned.contentType).send(canned.body)
      const now = Date.now()
      const outcome = processSendSms(body, { authorization: request.headers.authorization, credentials, maxParts, now })
      count(outcome, body, now)
      return answer(reply, fault, outcome)
    } finally {
      if (!hangs) counters.inFlight--
    }
  }

  const hang = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack()
    const socket = request.raw.socket
    hanging.add(socket)
    socket.once('close', () => {
      hanging.delete(socket)
      counters.inFlight--
    })
  }

  for (const path of SEND_PATHS) {
    app.post(path, handleSend)
    app.get(path, handleSend)
  }

  app.setNotFoundHandler(async (request) => {
    counters.requests++
    return providerError(PROVIDER_ERRORS.invalidAction, `Unknown action: ${request.method} ${pathOf(request.url)}`)
  })

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const path = pathOf(request.url)
    const control = path.startsWith(`${CONTROL_PREFIX}/`)
    const status = error.statusCode ?? INTERNAL_ERROR
    if (!control) {
      counters.requests++
      if (SEND_PATHS.includes(path)) counters.sendRequests++
    }
    if (status >= INTERNAL_ERROR) {
      logger?.error({ err: error }, 'simulator failed to answer')
      return reply.code(INTERNAL_ERROR).type('text/plain; charset=utf-8').send('Internal Server Error')
    }
    if (control) return reply.code(status).send({ error: error.message })
    const tooLarge = status === PAYLOAD_TOO_LARGE
    return reply.code(tooLarge ? PAYLOAD_TOO_LARGE : OK)
      .send(providerError(PROVIDER_ERRORS.invalidData, tooLarge ? 'Request body too large' : 'Malformed request body'))
  })

  const simulator: Simulator = {
    url: '',
    get received () {
      return recent.list()
    },
    get stats () {
      return { ...counters }
    },
    setFault (rule) {
      if (rule !== null) {
        const parsed = parseFaultRule(rule)
        if ('problem' in parsed) throw new TypeError(`Invalid fault rule: ${parsed.problem}`)
      }
      faults.set(rule)
    },
    setLatency (ms) {
      latencyMs = checkLatency(ms)
    },
    reset () {
      recent.clear()
      Object.assign(counters, emptyStats(), { inFlight: counters.inFlight })
      faults.set(null)
      pusher?.cancelPending()
    },
    async flushDeliveryReports () {
      await pusher?.flush()
    },
    close: once(async () => {
      closing.abort()
      for (const socket of hanging) socket.destroy()
      await pusher?.close()
      await app.close()
    })
  }

  registerControlApi(app, {
    setFault: (rule) => simulator.setFault(rule),
    currentFault: () => faults.rule,
    setLatency: (ms) => simulator.setLatency(ms),
    reset: () => simulator.reset(),
    stats: () => simulator.stats,
    received: (last) => recent.list(last)
  })

  await app.listen({ host: options.host ?? DEFAULT_HOST, port: options.port ?? 0 })
  const address = app.server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return Object.defineProperty(simulator, 'url', { value: `http://${host}:${address.port}/`, enumerable: true })
}

function dropConnection (request: FastifyRequest, reply: FastifyReply): undefined {
  reply.hijack()
  request.raw.socket.destroy()
  return undefined
}

function parseJson (text: string, done: (error: Error | null, body?: unknown) => void): void {
  if (text.trim() === '') {
    done(null, undefined)
    return
  }
  try {
    done(null, JSON.parse(text))
  } catch {
    done(Object.assign(new Error('Malformed JSON body'), { statusCode: BAD_REQUEST }))
  }
}

const queryOf = (url: string) => {
  const mark = url.indexOf('?')
  return mark === -1 ? '' : url.slice(mark + 1)
}

/** PHP-style form bodies: repeated keys and `phone[]` / `phone[0]` keys become arrays. */
export function parseForm (text: string): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const arrayKey = FORM_ARRAY_KEY.exec(key)?.[1]
    const name = arrayKey ?? key
    const previous = body[name]
    if (Array.isArray(previous)) previous.push(value)
    else if (previous !== undefined) body[name] = [previous, value]
    else body[name] = arrayKey === undefined ? value : [value]
  }
  return body
}

function hasCredentials (credentials: SimulatorCredentials | undefined): credentials is SimulatorCredentials {
  return credentials !== undefined && (credentials.token !== undefined || credentials.username !== undefined)
}

function checkLatency (ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a number of milliseconds >= 0, got ${ms}`)
  return ms
}

function emptyStats (): SimulatorStats {
  return {
    requests: 0,
    sendRequests: 0,
    messagesQueued: 0,
    messagesUnsent: 0,
    testMessages: 0,
    deliveryReportsSent: 0,
    deliveryReportsFailed: 0,
    inFlight: 0
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function once (action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  return async () => {
    running ??= action()
    return running
  }
}
