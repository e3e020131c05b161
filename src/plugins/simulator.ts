import fp from 'fastify-plugin'
import type { Config, UpstreamAuth } from '../config.js'
import { startSimulator, type Simulator } from '../simulator/simulator.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** present only when SERWERSMS_SIMULATOR=true */
    simulator: { url: string, auth: UpstreamAuth, instance: Simulator }
  }
}

const IN_PROCESS_TOKEN = 'in-process-simulator'

/** Runs the built-in simulator beside the gateway, on a loopback port of its own, for the quick start. */
export default fp<{ config: Config }>(async function simulatorPlugin (app, { config }) {
  const { latencyMs, deliveryReportDelayMs } = config.upstream.simulator
  const instance = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    latencyMs,
    // It reads a scheduled send's `date` as the gateway writes it.
    timeZone: config.upstream.timeZone,
    credentials: { token: IN_PROCESS_TOKEN },
    deliveryReports: { delayMs: deliveryReportDelayMs, mix: { delivered: 8, undelivered: 1, sent: 1 } },
    logger: app.log.child({ component: 'simulator' }) as never
  })
  app.log.warn({ simulatorUrl: instance.url }, 'SERWERSMS_SIMULATOR=true: messages go to the built-in simulator, nothing reaches SerwerSMS')
  app.decorate('simulator', { url: instance.url, auth: { kind: 'token', token: IN_PROCESS_TOKEN }, instance })
  app.addHook('onClose', async () => instance.close())
}, { name: 'simulator', fastify: '5.x' })
