import type { AddressInfo } from 'node:net'
import Fastify, { LogController, type FastifyRequest } from 'fastify'
import { startSimulator, parseForm, type SimulatorStats } from '../../src/simulator/simulator.js'
import { processSendSms, type SimulatorCredentials } from '../../src/simulator/send-sms.js'
import { readJsonEnv, reportToParent, whenParentAsks } from '../lib/child.js'

/**
 * The SerwerSMS simulator in a process of its own, driven by the benchmark over IPC.
 * `getStandIn` serves `messages/send_sms` also as GET with a query string (what Kannel's generic
 * HTTP SMSC sends), through the simulator's own `processSendSms`, for as long as the simulator
 * itself answers only POST.
 */
export interface SimulatorProcessOptions {
  latencyMs: number
  credentials: SimulatorCredentials
  getStandIn?: boolean
}

export interface SimulatorProcessReady { url: string, standIn: boolean }

interface RunningUpstream { url: string, stats: () => SimulatorStats }

const options = readJsonEnv<SimulatorProcessOptions>('BENCH_SIMULATOR')
const upstream = options.getStandIn === true ? await startGetStandIn(options) : await startRealSimulator(options)
whenParentAsks({ stats: () => upstream.stats() })
reportToParent<SimulatorProcessReady>({ url: upstream.url, standIn: options.getStandIn === true })

async function startRealSimulator ({ latencyMs, credentials }: SimulatorProcessOptions): Promise<RunningUpstream> {
  const simulator = await startSimulator({ latencyMs, credentials, deliveryReports: false, recordRequests: false, logger: false })
  return { url: simulator.url, stats: () => simulator.stats }
}

async function startGetStandIn ({ latencyMs, credentials }: SimulatorProcessOptions): Promise<RunningUpstream> {
  const counters = { requests: 0, sendRequests: 0, messagesQueued: 0, messagesUnsent: 0, testMessages: 0, deliveryReportsSent: 0, deliveryReportsFailed: 0, inFlight: 0 }
  const app = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }), exposeHeadRoutes: false, routerOptions: { ignoreTrailingSlash: true } })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, parseForm(body as string)))
  const handle = async (request: FastifyRequest, fields: Record<string, unknown>) => {
    counters.requests++
    counters.sendRequests++
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs))
    const outcome = processSendSms(fields, { authorization: request.headers.authorization, credentials, maxParts: 10, now: Date.now() })
    if (outcome.accepted) {
      counters.messagesQueued += outcome.queued
      counters.messagesUnsent += outcome.unsent
    }
    return outcome.body
  }
  for (const path of ['/messages/send_sms', '/messages/send_sms.json']) {
    app.post(path, async (request) => handle(request, (request.body ?? {}) as Record<string, unknown>))
    app.get(path, async (request) => handle(request, parseForm(queryOf(request.url))))
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/`, stats: () => ({ ...counters }) }
}

function queryOf (url: string): string {
  const start = url.indexOf('?')
  return start === -1 ? '' : url.slice(start + 1)
}
