import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import { recordLatency, type LatencyHistogram } from './latency.js'

/**
 * A fixed rate kept evenly: one request every 1/rate s, open loop (a request is sent when it is
 * due, whether or not the ones before it have been answered), over a pool of keep-alive
 * connections. autocannon keeps a fixed rate per connection and per second: each connection sends
 * its share of a second back to back from the second's top, so at 500 req/s over 10 connections
 * the server had 10 callers at once for the first 100–200 ms of every second and none after, and
 * the latency measured was close to the saturated one (bench/README.md, fifteenth round).
 */
export interface SteadyLoadSpec {
  url: string
  method: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
  /** connections the pool may open; a request due while all are busy waits for one, and that wait counts */
  connections: number
  rate: number
  /** measured time */
  seconds: number
  /**
   * sent at the rate before the measured requests, over the same connections, and not counted: a
   * fresh load process's first requests wait on its own connecting and compiling. Against one
   * warm gateway, 1-s runs of fresh processes read a p99 of 13–30 ms without it, 2.3–6.4 ms with
   * 0.5 s of it (bench/README.md, fifteenth round)
   */
  leadInSeconds: number
  expectInBody?: string
}

export interface SteadyLoadResult {
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  matched: number
  /** 2xx answers to the lead-in */
  leadInOk: number
  /** the first measured request's send to the last answer */
  seconds: number
  startedAt: number
  endedAt: number
  latency: LatencyHistogram
}

/** As autocannon's default: an answer not begun within it is a timeout. */
const TIMEOUT_MS = 10_000
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export async function runSteadyLoad (spec: SteadyLoadSpec): Promise<SteadyLoadResult> {
  const pool = new Pool(spec.url, { connections: spec.connections, pipelining: 1, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS })
  const result: SteadyLoadResult = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, matched: 0, leadInOk: 0, seconds: 0, startedAt: Date.now(), endedAt: 0, latency: {} }
  const leadIn = Math.round(spec.rate * spec.leadInSeconds)
  const total = leadIn + Math.max(1, Math.round(spec.rate * spec.seconds))
  const intervalMs = 1000 / spec.rate
  const answers: Array<Promise<void>> = []

  const sendOne = async (counted: boolean): Promise<void> => {
    const sentAt = performance.now()
    try {
      const response = await pool.request({ method: spec.method, path: spec.path, headers: spec.headers, body: spec.body })
      const text = await response.body.text()
      if (!counted) {
        if (response.statusCode >= 200 && response.statusCode < 300) result.leadInOk++
        return
      }
      const ms = performance.now() - sentAt
      if (response.statusCode >= 200 && response.statusCode < 300) {
        result.ok++
        recordLatency(result.latency, ms)
      } else {
        result.non2xx++
      }
      if (spec.expectInBody !== undefined && text.includes(spec.expectInBody)) result.matched++
    } catch (error) {
      if (!counted) return
      if (TIMEOUT_CODES.has((error as { code?: string }).code ?? '')) result.timeouts++
      else result.errors++
    }
  }

  const start = performance.now()
  let sent = 0
  await new Promise<void>((resolve) => {
    // Timers fire late by up to a millisecond or so; every request that has come due is sent then.
    const sendDue = () => {
      const now = performance.now()
      while (sent < total && start + sent * intervalMs <= now) {
        if (sent === leadIn) result.startedAt = Date.now()
        answers.push(sendOne(sent >= leadIn))
        sent++
      }
      if (sent < total) setTimeout(sendDue, Math.max(0, start + sent * intervalMs - performance.now()))
      else resolve()
    }
    sendDue()
  })
  await Promise.all(answers)
  result.endedAt = Date.now()
  result.seconds = (result.endedAt - result.startedAt) / 1000
  await pool.close()
  return result
}
