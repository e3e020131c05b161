/**
 * Soak: a bounded load on POST /sms (one recipient per request) through a gateway and the
 * SerwerSMS simulator, both started in this process on loopback; the load generator runs in a
 * worker thread so that it does not share the gateway's event loop.
 *
 *   npm run bench:soak                      60 s
 *   SOAK_SECONDS=1 npm run bench:soak       smoke run
 *
 * Settings (environment, or --name=value): SOAK_SECONDS (60), SOAK_WARMUP_SECONDS (seconds/4,
 * 1–15), SOAK_CONNECTIONS (20), SOAK_UPSTREAM_LATENCY_MS (10), SOAK_LOG_LEVEL (info, to a
 * discarding stream), SOAK_MAX_RSS_GROWTH (0.2). Targets: no errors and no non-2xx answers; RSS
 * (sampled under load, first tenth of the run against the last) grows less than
 * SOAK_MAX_RSS_GROWTH; the provider is asked once per answered send.
 * Writes bench/out/soak.json; exits 1 when a target is missed.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logging.js'
import { serverOptions } from '../src/server-options.js'
import { startSimulator, type Simulator } from '../src/simulator/simulator.js'

interface LatencyStats { average: number, p50: number, p90: number, p99: number, max: number }
interface AutocannonResult {
  requests: { average: number, total: number, sent: number }
  latency: LatencyStats
  throughput: { average: number }
  errors: number
  timeouts: number
  non2xx: number
  resets: number
  mismatches: number
  '2xx': number
  duration: number
}
interface AutocannonOptions {
  url: string
  method: 'POST'
  headers: Record<string, string>
  body: string
  connections: number
  duration: number
  workers?: number
}
type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>

// autocannon ships no types; it is called with the few options declared above.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const OUT_FILE = fileURLToPath(new URL('./out/soak.json', import.meta.url))
const API_KEY = 'soak-key-0123456789abcdef'
const UPSTREAM_TOKEN = 'soak-upstream-token'
const MB = 1024 * 1024
const RSS_SAMPLE_MS = 250
const SETTLE_POLL_MS = 100
const SETTLE_TIMEOUT_MS = 10_000

function readSettings () {
  const given = new Map<string, string>()
  for (const [name, value] of Object.entries(process.env)) if (name.startsWith('SOAK_') && value !== undefined && value !== '') given.set(name, value)
  for (const arg of process.argv.slice(2)) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg)
    if (match !== null) given.set(`SOAK_${match[1]!.toUpperCase().replaceAll('-', '_')}`, match[2]!)
  }
  const number = (name: string, fallback: number, min: number): number => {
    const text = given.get(name)
    if (text === undefined) return fallback
    const value = Number(text)
    if (!Number.isFinite(value) || value < min) throw new Error(`${name}=${JSON.stringify(text)}: expected a number >= ${min}`)
    return value
  }
  const seconds = number('SOAK_SECONDS', 60, 1)
  return {
    seconds,
    // RSS keeps climbing for the first ~10 s of load (heap sizing, JIT): the warm-up absorbs that.
    warmupSeconds: number('SOAK_WARMUP_SECONDS', Math.min(15, Math.max(1, Math.round(seconds / 4))), 0),
    connections: number('SOAK_CONNECTIONS', 20, 1),
    upstreamLatencyMs: number('SOAK_UPSTREAM_LATENCY_MS', 10, 0),
    logLevel: given.get('SOAK_LOG_LEVEL') ?? 'info',
    maxRssGrowth: number('SOAK_MAX_RSS_GROWTH', 0.2, 0)
  }
}

/** The gateway's log lines are produced and serialised as in production, then dropped. */
const discard = new Writable({ write (_chunk, _encoding, callback) { callback() } })

/** Waits until the sends cut off by the end of a load phase have reached the provider. */
async function settle (simulator: Simulator): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS
  do await sleep(SETTLE_POLL_MS)
  while (simulator.stats.inFlight > 0 && Date.now() < deadline)
}

/** Median of a few readings, undefined for none. */
function median (values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const round = (mb: number) => Math.round(mb * 10) / 10
const rssMb = () => Math.round((process.memoryUsage().rss / MB) * 10) / 10
const heapMb = () => Math.round((process.memoryUsage().heapUsed / MB) * 10) / 10

async function main (): Promise<number> {
  const settings = readSettings()
  const simulator = await startSimulator({ credentials: { token: UPSTREAM_TOKEN }, latencyMs: settings.upstreamLatencyMs, deliveryReports: false, logger: false })
  const config = loadConfig({
    ENV_FILE: '/dev/null',
    LOG_LEVEL: settings.logLevel,
    SERWERSMS_API_URL: simulator.url,
    SERWERSMS_TOKEN: UPSTREAM_TOKEN,
    API_KEYS: `soak:${API_KEY}`,
    RATE_LIMIT_MAX: '1000000000'
  })
  const gateway = Fastify(serverOptions(config, { logger: { ...loggerOptions(config.logLevel, false), stream: discard } }))
  await gateway.register(app, { config })
  await gateway.listen({ host: '127.0.0.1', port: 0 })
  const { port } = gateway.server.address() as AddressInfo

  // autocannon answers with a thenable (no finally): made a real promise here.
  const load = async (seconds: number) => await autocannon({
    url: `http://127.0.0.1:${port}/sms`,
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to: '+48500600700', text: 'Your code is 4711' }),
    connections: settings.connections,
    duration: seconds,
    workers: 1
  })

  try {
    const rssAtBoot = rssMb()
    console.log(`soak: ${settings.seconds} s after a ${settings.warmupSeconds} s warm-up, ${settings.connections} connections, provider latency ${settings.upstreamLatencyMs} ms`)
    const warmup = settings.warmupSeconds > 0 ? await load(settings.warmupSeconds) : undefined
    await settle(simulator)
    const sendsBefore = simulator.stats.sendRequests
    const rssAfterWarmup = rssMb()
    const heapStart = heapMb()
    const rssSamples: number[] = []
    const sampler = setInterval(() => rssSamples.push(rssMb()), RSS_SAMPLE_MS)
    const result = await load(settings.seconds).finally(() => { clearInterval(sampler) })
    const heapEnd = heapMb()
    await settle(simulator)
    const upstreamSends = simulator.stats.sendRequests - sendsBefore
    // Under load RSS swings with every garbage collection: compare the typical level of the first
    // and the last tenth of the run, not two single readings.
    const window = Math.max(2, Math.ceil(rssSamples.length / 10))
    const rssStart = round(median(rssSamples.slice(0, window)) ?? rssAfterWarmup)
    const rssEnd = round(median(rssSamples.slice(-window)) ?? rssMb())

    const failures = result.errors + result.timeouts + result.non2xx + result.resets + result.mismatches
    const warmupFailures = warmup === undefined ? 0 : warmup.errors + warmup.timeouts + warmup.non2xx
    const rssGrowth = (rssEnd - rssStart) / rssStart
    // Sends cut off in flight when the load stops may have reached the provider without an answer.
    const extraSends = upstreamSends - result['2xx']
    const report = {
      settings,
      at: new Date().toISOString(),
      node: process.version,
      throughputRps: Math.round(result.requests.average),
      requests: result.requests.total,
      ok2xx: result['2xx'],
      latencyMs: { average: result.latency.average, p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      warmupFailures,
      upstreamSends,
      rssMb: { boot: rssAtBoot, afterWarmup: rssAfterWarmup, start: rssStart, end: rssEnd, max: Math.max(rssEnd, ...rssSamples), sampleEveryMs: RSS_SAMPLE_MS, samples: rssSamples },
      heapUsedMb: { start: heapStart, end: heapEnd },
      rssGrowth: Math.round(rssGrowth * 1000) / 1000,
      targets: {
        noErrors: failures === 0 && warmupFailures === 0,
        rssGrowthUnderLimit: rssGrowth < settings.maxRssGrowth,
        oneUpstreamRequestPerSend: extraSends >= 0 && extraSends <= settings.connections,
        didWork: result['2xx'] > 0
      }
    }

    console.table({
      'throughput (req/s)': { value: report.throughputRps, target: '' },
      'requests (2xx / total)': { value: `${report.ok2xx} / ${report.requests}`, target: '' },
      'latency p50 (ms)': { value: report.latencyMs.p50, target: '' },
      'latency p99 (ms)': { value: report.latencyMs.p99, target: '' },
      'errors + timeouts': { value: result.errors + result.timeouts, target: '0' },
      'non-2xx': { value: result.non2xx, target: '0' },
      'warm-up failures': { value: warmupFailures, target: '0' },
      'upstream sends': { value: upstreamSends, target: `2xx (+ ≤ ${settings.connections} cut off)` },
      'RSS boot / load start / load end (MB)': { value: `${rssAtBoot} / ${rssStart} / ${rssEnd}`, target: '' },
      'RSS growth': { value: `${(rssGrowth * 100).toFixed(1)} %`, target: `< ${settings.maxRssGrowth * 100} %` },
      'heap used start / end (MB)': { value: `${heapStart} / ${heapEnd}`, target: '' }
    })

    await mkdir(fileURLToPath(new URL('./out/', import.meta.url)), { recursive: true })
    await writeFile(OUT_FILE, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`written ${OUT_FILE}`)

    const missed = Object.entries(report.targets).filter(([, met]) => !met).map(([name]) => name)
    if (missed.length > 0) {
      console.error(`targets missed: ${missed.join(', ')}`)
      return 1
    }
    console.log('all targets met')
    return 0
  } finally {
    await gateway.close()
    await simulator.close()
  }
}

main().then((code) => { process.exitCode = code }, (error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
