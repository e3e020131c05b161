import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import type { LoadResult, LoadSpec } from '../procs/load.js'
import { recordLatency } from './latency.js'

/**
 * A fixed rate kept evenly: one request every 1/rate s, open loop (a request is sent when it is
 * due, whether or not the ones before it have been answered), over a pool of keep-alive
 * connections. autocannon keeps a fixed rate per connection and per second: each connection sends
 * its share of a second back to back from the second's top, so at 500 req/s over 10 connections
 * the server had 10 callers at once for the first 100–200 ms of every second and none after, and
 * the latency measured was close to the saturated one (bench/README.md, fifteenth round).
 */
export interface SteadyLoadSpec extends Pick<LoadSpec, 'url' | 'method' | 'path' | 'headers' | 'body' | 'expectInBody'> {
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
  /** from a request's send to its whole answer, waiting for a connection included; 10 s as autocannon's */
  timeoutMs?: number
}

export interface SteadyLoadResult extends Pick<LoadResult, 'ok' | 'non2xx' | 'errors' | 'timeouts' | 'startedAt' | 'endedAt' | 'latency'> {
  matched: number
  /** 2xx answers to the lead-in */
  leadInOk: number
  /** the first measured request's send to the last answer */
  seconds: number
}

const DEFAULT_TIMEOUT_MS = 10_000

export async function runSteadyLoad (spec: SteadyLoadSpec): Promise<SteadyLoadResult> {
  const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const pool = new Pool(spec.url, { connections: spec.connections, pipelining: 1 })
  const result: SteadyLoadResult = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, matched: 0, leadInOk: 0, seconds: 0, startedAt: Date.now(), endedAt: 0, latency: {} }
  const leadIn = Math.round(spec.rate * spec.leadInSeconds)
  const total = leadIn + Math.max(1, Math.round(spec.rate * spec.seconds))
  const intervalMs = 1000 / spec.rate
  const answers: Array<Promise<void>> = []

  // Latency runs from the send, not from when the request was due: the load is open loop, so a
  // slow server does not make sends late; a late send is the load process's own stall, which
  // would otherwise be charged to whichever side it fell on.
  const sendOne = async (counted: boolean): Promise<void> => {
    const sentAt = performance.now()
    // One deadline for the whole exchange: undici's own timeouts start only once a request has a
    // socket, and one queued behind a stalled server would have none.
    const deadline = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; deadline.abort() }, timeoutMs)
    try {
      const response = await pool.request({ method: spec.method, path: spec.path, headers: spec.headers, body: spec.body, signal: deadline.signal })
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
    } catch {
      if (!counted) return
      if (timedOut) result.timeouts++
      else result.errors++
    } finally {
      clearTimeout(timer)
    }
  }

  try {
    await sendAll()
    await Promise.all(answers)
  } finally {
    await pool.close()
  }
  result.endedAt = Date.now()
  result.seconds = (result.endedAt - result.startedAt) / 1000
  return result

  async function sendAll (): Promise<void> {
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
  }
}
