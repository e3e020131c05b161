import { setMaxListeners } from 'node:events'
import { Agent, request } from 'undici'
import type { Logger } from 'pino'
import { formatProviderDate } from '../sms/send-date.js'

export type SimulatedDeliveryState = 'delivered' | 'undelivered' | 'sent'

export interface DeliveryReportOptions {
  delayMs?: number
  /** weights of the states reported; default all delivered */
  mix?: Partial<Record<SimulatedDeliveryState, number>>
  method?: 'GET' | 'POST'
  /** push every report twice, like a provider retrying */
  duplicate?: boolean
}

/** `count` reports were pushed (ok) or failed */
export type DeliveryReportOutcome = (ok: boolean, count: number) => void

/** A subset of the provider's reasons for non-delivery. @see ../../../shared/docs/serwersms-api.md */
export const UNDELIVERED_REASONS = ['message_expired', 'unsupported_number', 'wrong_number', 'operator_error', 'number_is_blacklisted'] as const

export const DEFAULT_DELIVERY_REPORT_DELAY_MS = 1000
export const DELIVERY_REPORT_CONCURRENCY = 16
export const DELIVERY_REPORT_TIMEOUT_MS = 5000
/** beyond this many waiting reports new ones are counted as failed instead of queued */
export const MAX_PENDING_DELIVERY_REPORTS = 1_000_000

const KEEP_ALIVE_MS = 10_000
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'
const PUSHABLE_PROTOCOLS: ReadonlySet<string> = new Set(['http:', 'https:'])
const ENCODED_HTTP_URL = /^https?%3a/i
const QUEUE_COMPACTION_THRESHOLD = 1024
/** The longest setTimeout Node keeps (2^31 - 1 ms, ~24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647
const SAMPLE_VALUES: Report = { id: '0123456789', state: 'delivered', date: '2000-01-01 00:00:00', reason: '' }

interface Batch { dueAt: number, template: string, ids: readonly string[], next: number }
interface Report { id: string, state: SimulatedDeliveryState, date: string, reason: string }

/**
 * Pushes delivery reports to the `dlr_url` of a request, the way the provider does, a fixed delay
 * after the messages leave: at once, or at the time a scheduled send names. Batches kept in the
 * order they fall due, at most DELIVERY_REPORT_CONCURRENCY pushes at once, never following
 * redirects; a failure is counted, never thrown.
 */
export class DeliveryReportPusher {
  readonly #delayMs: number
  readonly #method: 'GET' | 'POST'
  readonly #duplicate: boolean
  readonly #pickState: () => SimulatedDeliveryState
  readonly #onOutcome: DeliveryReportOutcome
  readonly #logger: Logger | undefined
  readonly #agent = new Agent({
    connections: DELIVERY_REPORT_CONCURRENCY,
    keepAliveTimeout: KEEP_ALIVE_MS,
    connect: { timeout: DELIVERY_REPORT_TIMEOUT_MS }
  })

  readonly #abort = new AbortController()
  #batches: Batch[] = []
  #head = 0
  #pending = 0
  #active = 0
  #timer: NodeJS.Timeout | undefined
  #idleWaiters: Array<() => void> = []
  #closed = false

  constructor (options: DeliveryReportOptions, onOutcome: DeliveryReportOutcome, logger?: Logger) {
    this.#delayMs = options.delayMs ?? DEFAULT_DELIVERY_REPORT_DELAY_MS
    this.#method = options.method ?? 'GET'
    this.#duplicate = options.duplicate ?? false
    this.#pickState = weightedPicker(options.mix ?? { delivered: 1 })
    this.#onOutcome = onOutcome
    this.#logger = logger
    // every push in flight listens for close
    setMaxListeners(0, this.#abort.signal)
  }

  /**
   * Queues one report per id (`ids` must not change afterwards), due the delay after `sendAt` (ms
   * since epoch; a scheduled send's time) or after `now`, whichever is later; an unusable URL or a
   * full queue counts them all as failed.
   */
  schedule (dlrUrl: string, ids: readonly string[], now: number = Date.now(), sendAt?: number): void {
    if (this.#closed || ids.length === 0) return
    const template = toPushableTemplate(dlrUrl)
    if (template === undefined || this.#pending + ids.length > MAX_PENDING_DELIVERY_REPORTS) {
      this.#logger?.debug({ dlrUrl: withoutSignature(dlrUrl), reports: ids.length }, template === undefined ? 'unusable dlr_url' : 'delivery report queue full')
      this.#onOutcome(false, ids.length * this.#copies)
      return
    }
    const dueAt = (sendAt !== undefined && sendAt > now ? sendAt : now) + this.#delayMs
    const at = this.#insertionPoint(dueAt)
    this.#batches.splice(at, 0, { dueAt, template, ids, next: 0 })
    if (at === this.#head) {
      // Due before the batch the timer waits for.
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.#pending += ids.length
    this.#pump()
  }

  /** Where a batch due at `dueAt` goes: after every one due no later, so that equal ones keep their order. */
  #insertionPoint (dueAt: number): number {
    let low = this.#head
    let high = this.#batches.length
    // Sends at once are due in the order they came: the search ends at the first step.
    if (high === low || this.#batches[high - 1]!.dueAt <= dueAt) return high
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.#batches[middle]!.dueAt <= dueAt) low = middle + 1
      else high = middle
    }
    return low
  }

  /** Resolves once nothing is waiting or being pushed. */
  async flush (): Promise<void> {
    if (this.#isIdle()) return
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Drops the reports not yet started; pushes under way finish. */
  cancelPending (): void {
    this.#batches = []
    this.#head = 0
    this.#pending = 0
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#settleIfIdle()
  }

  async close (): Promise<void> {
    this.#closed = true
    this.cancelPending()
    this.#abort.abort()
    await this.flush()
    await this.#agent.destroy()
  }

  get #copies (): number {
    return this.#duplicate ? 2 : 1
  }

  #pump (): void {
    while (this.#active < DELIVERY_REPORT_CONCURRENCY) {
      const batch = this.#batches[this.#head]
      if (batch === undefined) break
      const wait = batch.dueAt - Date.now()
      if (wait > 0) {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined
          this.#pump()
        }, Math.min(wait, MAX_TIMER_MS))
        break
      }
      const id = batch.ids[batch.next++] as string
      if (batch.next === batch.ids.length) this.#dequeue()
      this.#pending--
      this.#active++
      this.#deliver(batch.template, id).finally(() => {
        this.#active--
        this.#pump()
      })
    }
    this.#settleIfIdle()
  }

  #dequeue (): void {
    this.#head++
    if (this.#head >= QUEUE_COMPACTION_THRESHOLD && this.#head * 2 >= this.#batches.length) {
      this.#batches = this.#batches.slice(this.#head)
      this.#head = 0
    }
  }

  async #deliver (template: string, id: string): Promise<void> {
    const state = this.#pickState()
    const reason = state === 'undelivered' ? pickReason() : ''
    const url = renderUrl(template, { id, state, date: formatProviderDate(new Date()), reason })
    for (let copy = 0; copy < this.#copies; copy++) {
      const ok = await this.#push(url)
      if (!this.#closed) this.#onOutcome(ok, 1)
    }
  }

  async #push (url: string): Promise<boolean> {
    const query = url.indexOf('?')
    const post = this.#method === 'POST'
    try {
      const response = await request(post && query >= 0 ? url.slice(0, query) : url, {
        dispatcher: this.#agent,
        method: this.#method,
        headers: post ? { 'content-type': FORM_CONTENT_TYPE } : undefined,
        body: post ? (query >= 0 ? url.slice(query + 1) : '') : undefined,
        headersTimeout: DELIVERY_REPORT_TIMEOUT_MS,
        bodyTimeout: DELIVERY_REPORT_TIMEOUT_MS,
        signal: this.#abort.signal
      })
      await response.body.dump()
      return response.statusCode >= 200 && response.statusCode < 300
    } catch (error) {
      this.#logger?.debug({ err: error, url: withoutSignature(url) }, 'delivery report push failed')
      return false
    }
  }

  #isIdle (): boolean {
    return this.#pending === 0 && this.#active === 0
  }

  #settleIfIdle (): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}

/**
 * The dlr_url with its placeholders replaced by URL-encoded values. A report without a reason
 * (every one but `undelivered`) leaves `#PRZYCZYNA#` as it is: the seed does not say what the
 * provider fills in then, and the literal placeholder is the case a receiver must survive (pushed
 * as a GET it starts a fragment, so whatever follows it in the URL never arrives).
 */
export function renderUrl (template: string, report: Report): string {
  const filled = template
    .replaceAll('#SMSID#', encodeURIComponent(report.id))
    .replaceAll('#STAN#', encodeURIComponent(report.state))
    .replaceAll('#DATA#', encodeURIComponent(report.date))
  return report.reason === '' ? filled : filled.replaceAll('#PRZYCZYNA#', encodeURIComponent(report.reason))
}

/** The template when it renders to an http(s) URL; clients may send it URL-encoded, as the seed asks. */
function toPushableTemplate (dlrUrl: string): string | undefined {
  let template = dlrUrl.trim()
  if (ENCODED_HTTP_URL.test(template)) {
    try {
      template = decodeURIComponent(template)
    } catch {
      return undefined
    }
  }
  const sample = renderUrl(template, SAMPLE_VALUES)
  return URL.canParse(sample) && PUSHABLE_PROTOCOLS.has(new URL(sample).protocol) ? template : undefined
}

function weightedPicker (mix: Partial<Record<SimulatedDeliveryState, number>>): () => SimulatedDeliveryState {
  const states: SimulatedDeliveryState[] = []
  const thresholds: number[] = []
  let total = 0
  for (const [state, weight] of Object.entries(mix) as Array<[SimulatedDeliveryState, number | undefined]>) {
    if (weight === undefined || !(weight > 0) || !Number.isFinite(weight)) continue
    total += weight
    states.push(state)
    thresholds.push(total)
  }
  if (total === 0) return () => 'delivered'
  return () => {
    const roll = Math.random() * total
    const index = thresholds.findIndex((threshold) => roll < threshold)
    return states[index] ?? states[states.length - 1] ?? 'delivered'
  }
}

function pickReason (): string {
  return UNDELIVERED_REASONS[Math.floor(Math.random() * UNDELIVERED_REASONS.length)] ?? 'other_error'
}

/** The push URL carries the gateway's signature, which must not reach a log. */
function withoutSignature (url: string): string {
  return url.replace(/([?&]sig=)[^&#]*/, '$1[redacted]')
}
