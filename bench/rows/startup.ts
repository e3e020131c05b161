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
/**
 * Memory is read in MiB (2^20 bytes, as ps, top and /proc count it), and the targets in
 * "MB" are read as MiB too; in SI megabytes (10^6 bytes) every figure is 1.049× larger.
 */
const MB = 1024 * 1024
/** How long a server sits idle after it is ready before its RSS is read. */
const IDLE_SETTLE_MS = 1000
/**
 * How long one gateway and one bare fastify sit idle, side by side, for the settled reading. At
 * 1 s the gateway still holds the young generation start-up grew (2 × 8 MB); V8's memory reducer
 * hands it back in an idle process ~17 s after it is ready (bench/README.md, twenty-third round).
 */
const SETTLED_MS = 30_000
/** A shorter run (the smoke test's 1 s) reads the settled RSS after this many of its seconds, in ms: a check that the reading works, before V8 has handed anything back. */
const SETTLED_MS_PER_SECOND = 3000

interface Start { startupMs: number, idleRssMb: number, codeCache?: string }
/** src/launch.ts says on stderr, under NODE_DEBUG=sms-gateway, whether V8 took the code cache. */
const SAYS_CODE_CACHE = { NODE_DEBUG: 'sms-gateway' }

/** 4. Cold starts, spawn() to the first 200 from /readyz, and RSS after a moment idle; medians of alternating starts. */
export async function measureStartup (settings: BenchSettings): Promise<Row> {
  const settleMs = Math.min(IDLE_SETTLE_MS, settings.seconds * 100)
  const gateway: Start[] = []
  const bare: Start[] = []
  for (let i = 0; i < settings.starts; i++) {
    gateway.push(await measureStart(await startGateway({ ...settings, cpuProfileDir: undefined }, UNUSED_UPSTREAM, SAYS_CODE_CACHE), settleMs))
    bare.push(await measureStart(await startBare(), settleMs))
  }
  const summary = (starts: Start[]) => ({ startupMs: median(starts.map((s) => s.startupMs)), idleRssMb: median(starts.map((s) => s.idleRssMb)) })
  const subject = summary(gateway)
  const baseline = summary(bare)
  const settledMs = Math.min(SETTLED_MS, settings.seconds * SETTLED_MS_PER_SECOND)
  const [gatewaySettled, bareSettled] = await Promise.all([
    settledRss(startGateway({ ...settings, cpuProfileDir: undefined }, UNUSED_UPSTREAM), settledMs),
    settledRss(startBare(), settledMs)
  ])
  return {
    id: 'startup',
    title: `4. Start-up and footprint — process start to /readyz answering, RSS after ${settleMs} ms idle (median of ${settings.starts} starts)`,
    subject: 'gateway',
    baseline: 'bare fastify',
    figures: [
      { measure: 'start-up', unit: 'ms', subject: subject.startupMs, baseline: baseline.startupMs },
      { measure: 'idle RSS', unit: 'MiB', subject: subject.idleRssMb, baseline: baseline.idleRssMb },
      { measure: `RSS after ${settledMs / 1000} s idle (one start each, informative)`, unit: 'MiB', subject: gatewaySettled, baseline: bareSettled }
    ],
    checks: [
      atMost('gateway start-up', subject.startupMs, MAX_STARTUP_MS, 'ms'),
      atMost('gateway idle RSS', subject.idleRssMb, MAX_IDLE_RSS_MB, 'MiB')
    ],
    notes: [
      `gateway start-ups (ms): ${gateway.map((s) => Math.round(s.startupMs)).join(', ')}`,
      `gateway code cache: ${gateway.map((s) => s.codeCache ?? 'not said').join(', ')}`,
      `the target is checked on the idle RSS ${settleMs} ms after /readyz, as in every round; the reading after ${settledMs / 1000} s shows what V8's memory reducer leaves once an idle process has handed back start-up's young generation`
    ]
  }
}

/** RSS, MiB, of a server left idle for settledMs after it is ready. */
async function settledRss (starting: Promise<ServerProcess>, settledMs: number): Promise<number> {
  const server = await starting
  try {
    await sleep(settledMs)
    return (await server.memory()).rss / MB
  } finally {
    await server.stop()
  }
}

async function measureStart (server: ServerProcess, settleMs: number): Promise<Start> {
  try {
    await sleep(settleMs)
    const { rss } = await server.memory()
    return { startupMs: server.startupMs, idleRssMb: rss / MB, codeCache: /code cache (\w+)/.exec(server.stderr())?.[1] }
  } finally {
    await server.stop()
  }
}
