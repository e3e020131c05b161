import { setTimeout as sleep } from 'node:timers/promises'
import { startBare, startGateway } from '../lib/cast.js'
import { median } from '../lib/latency.js'
import type { ServerProcess } from '../lib/processes.js'
import { atMost, type Row } from '../lib/report.js'
import type { BenchSettings } from '../lib/settings.js'

export const MAX_STARTUP_MS = 500
export const MAX_IDLE_RSS_MB = 80
/** Never contacted at start-up: the gateway does not call its upstream before the first send. */
const UNUSED_UPSTREAM = 'http://127.0.0.1:9/'
const MB = 1024 * 1024
/** RSS right after start-up: what a server holds 1 s after it first answered /readyz. */
const JUST_STARTED_MS = 1000
/**
 * Idle RSS: read after this long without a request. V8 keeps the young generation it grew while
 * loading and compiling until its memory reducer runs, 8 s after the last full collection; only
 * then does the footprint show what an idle replica holds (bench/README.md, row 4).
 */
const IDLE_MS = 15_000

interface Start { startupMs: number, justStartedRssMb: number }

/**
 * 4. Cold starts, spawn() to the first 200 from /readyz, and RSS 1 s later (medians of alternating
 * starts); then one gateway and one bare fastify side by side, left idle, and their RSS at the end.
 */
export async function measureStartup (settings: BenchSettings): Promise<Row> {
  const justStartedMs = Math.min(JUST_STARTED_MS, settings.seconds * 100)
  const idleMs = Math.min(IDLE_MS, settings.seconds * 1500)
  const gateway: Start[] = []
  const bare: Start[] = []
  for (let i = 0; i < settings.starts; i++) {
    gateway.push(await measureStart(await startGateway({ ...settings, cpuProfileDir: undefined }, UNUSED_UPSTREAM), justStartedMs))
    bare.push(await measureStart(await startBare(), justStartedMs))
  }
  const idle = await measureIdle(settings, idleMs)
  const summary = (starts: Start[]) => ({ startupMs: median(starts.map((s) => s.startupMs)), justStartedRssMb: median(starts.map((s) => s.justStartedRssMb)) })
  const subject = summary(gateway)
  const baseline = summary(bare)
  return {
    id: 'startup',
    title: `4. Start-up and footprint — process start to /readyz answering (median of ${settings.starts} starts), RSS ${justStartedMs} ms after, and RSS after ${idleMs / 1000} s idle`,
    subject: 'gateway',
    baseline: 'bare fastify',
    figures: [
      { measure: 'start-up', unit: 'ms', subject: subject.startupMs, baseline: baseline.startupMs },
      { measure: `RSS ${justStartedMs} ms after start-up`, unit: 'MB', subject: subject.justStartedRssMb, baseline: baseline.justStartedRssMb },
      { measure: 'idle RSS', unit: 'MB', subject: idle.gateway, baseline: idle.bare }
    ],
    checks: [
      atMost('gateway start-up', subject.startupMs, MAX_STARTUP_MS, 'ms'),
      atMost('gateway idle RSS', idle.gateway, MAX_IDLE_RSS_MB, 'MB')
    ],
    notes: [
      `gateway start-ups (ms): ${gateway.map((s) => Math.round(s.startupMs)).join(', ')}`,
      `idle RSS read after ${idleMs / 1000} s without requests; the RSS ${justStartedMs} ms after start-up still holds the young generation grown while loading`
    ]
  }
}

async function measureStart (server: ServerProcess, settleMs: number): Promise<Start> {
  try {
    await sleep(settleMs)
    const { rss } = await server.memory()
    return { startupMs: server.startupMs, justStartedRssMb: rss / MB }
  } finally {
    await server.stop()
  }
}

/** Both servers idle at once: idle processes do not compete for the CPU, and the row takes the wait once. */
async function measureIdle (settings: BenchSettings, idleMs: number): Promise<{ gateway: number, bare: number }> {
  const gateway = await startGateway({ ...settings, cpuProfileDir: undefined }, UNUSED_UPSTREAM)
  try {
    const bare = await startBare()
    try {
      await sleep(idleMs)
      return { gateway: (await gateway.memory()).rss / MB, bare: (await bare.memory()).rss / MB }
    } finally {
      await bare.stop()
    }
  } finally {
    await gateway.stop()
  }
}
