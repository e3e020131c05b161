import { createSerwerSmsClient as createUndiciClient, type SendSmsFields } from '../../src/serwersms/client.js'
import { createSerwerSmsClient as createGotClient } from '../candidates/serwersms-client-got.js'
import { readJsonEnv, reportToParent } from '../lib/child.js'

/**
 * One upstream client under load in a process of its own: the gateway's undici client
 * (src/serwersms/client.ts) or its former got client (bench/candidates), `concurrency` send_sms requests in
 * flight for `seconds`. Reports answers and the CPU time the process spent on them.
 */
export interface ClientLoadSpec { client: 'got' | 'undici', upstreamUrl: string, token: string, concurrency: number, seconds: number, warmupSeconds: number }
export interface ClientLoadResult { ok: number, failed: number, seconds: number, cpuMs: number }

const TIMEOUT_MS = 15_000
const FIELDS: SendSmsFields = { system: 'sms-gateway', details: true, phone: ['+48500600700'], text: 'Benchmark message' }

const spec = readJsonEnv<ClientLoadSpec>('BENCH_CLIENT_LOAD')
const createClient = spec.client === 'got' ? createGotClient : createUndiciClient
const { sendSms } = createClient({ apiUrl: spec.upstreamUrl, auth: { kind: 'token', token: spec.token }, timeoutMs: TIMEOUT_MS })

await drive(spec.warmupSeconds)
reportToParent<ClientLoadResult>(await drive(spec.seconds), { last: true })

async function drive (seconds: number): Promise<ClientLoadResult> {
  let ok = 0
  let failed = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + seconds * 1000
  const lane = async () => {
    while (performance.now() < deadline) {
      const outcome = await sendSms(FIELDS)
      if (outcome.outcome === 'ok') ok++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: spec.concurrency }, lane))
  const cpu = process.cpuUsage(cpuBefore)
  return { ok, failed, seconds: (performance.now() - started) / 1000, cpuMs: (cpu.user + cpu.system) / 1000 }
}
