import { STATUS_CODES } from 'node:http'
import { providerErrorType } from './provider-errors.js'

export type SimulatorFault =
  | { kind: 'slow', delayMs: number }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'http-error', status: number }
  | { kind: 'html' }
  | { kind: 'garbage' }
  | { kind: 'truncated' }
  | { kind: 'provider-error', code: number, message?: string, type?: string, status?: number }
  | { kind: 'extra-fields' }

export interface FaultRule {
  fault: SimulatorFault
  /** let this many send_sms requests through normally first (default 0) */
  afterRequests?: number
  /** then misbehave on this many requests, afterwards behave again (default: forever) */
  times?: number
}

/** A reply that replaces the provider's answer entirely. */
export interface CannedResponse { status: number, contentType: string, body: string }

const FAULT_KINDS: ReadonlySet<string> = new Set(['slow', 'hang', 'reset', 'http-error', 'html', 'garbage', 'truncated', 'provider-error', 'extra-fields'])
const MIN_ERROR_STATUS = 400
const MIN_STATUS = 100
const MAX_STATUS = 599
const PROXY_ERROR_STATUS = 502
const OK_STATUS = 200
const DEFAULT_PROVIDER_ERROR_MESSAGE = 'Simulated provider error'
const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8'
const HTML_CONTENT_TYPE = 'text/html; charset=utf-8'
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
const PROXY_ERROR_PAGE = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n' +
  '<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
const GARBAGE_BODY = '<br />\n<b>Fatal error</b>:  Uncaught Exception in <b>/var/www/api/index.php</b> on line <b>42</b><br />\n'

/** Which send_sms requests misbehave, counting from the moment the rule was set. */
export class FaultSchedule {
  #rule: FaultRule | null = null
  #seen = 0
  #applied = 0

  get rule (): FaultRule | null {
    return this.#rule
  }

  set (rule: FaultRule | null): void {
    this.#rule = rule
    this.#seen = 0
    this.#applied = 0
  }

  /** Called once per send_sms request: the fault to apply to it, if any. */
  next (): SimulatorFault | undefined {
    const rule = this.#rule
    if (rule === null) return undefined
    this.#seen++
    if (this.#seen <= (rule.afterRequests ?? 0)) return undefined
    if (rule.times !== undefined && this.#applied >= rule.times) return undefined
    this.#applied++
    return rule.fault
  }
}

/** `null`, `undefined` and `{}` clear the fault; otherwise the rule or a description of its problem. */
export function parseFaultRule (value: unknown): { rule: FaultRule | null } | { problem: string } {
  if (value === null || value === undefined) return { rule: null }
  if (!isRecord(value)) return { problem: 'a fault rule must be an object' }
  if (Object.keys(value).length === 0) return { rule: null }
  const problem = checkCount(value.afterRequests, 'afterRequests') ?? checkCount(value.times, 'times') ?? checkFault(value.fault)
  return problem === undefined ? { rule: value as unknown as FaultRule } : { problem }
}

/** The canned reply of a fault that answers instead of the provider, else undefined. */
export function cannedFaultResponse (fault: SimulatorFault): CannedResponse | undefined {
  switch (fault.kind) {
    case 'http-error':
      return { status: fault.status, contentType: TEXT_CONTENT_TYPE, body: STATUS_CODES[fault.status] ?? `HTTP ${fault.status}` }
    case 'html':
      return { status: PROXY_ERROR_STATUS, contentType: HTML_CONTENT_TYPE, body: PROXY_ERROR_PAGE }
    case 'garbage':
      return { status: OK_STATUS, contentType: JSON_CONTENT_TYPE, body: GARBAGE_BODY }
    case 'provider-error': {
      const error = {
        code: fault.code,
        type: fault.type ?? providerErrorType(fault.code),
        message: fault.message ?? DEFAULT_PROVIDER_ERROR_MESSAGE
      }
      return { status: fault.status ?? OK_STATUS, contentType: JSON_CONTENT_TYPE, body: JSON.stringify({ error }) }
    }
    default:
      return undefined
  }
}

/** The first half of the serialised answer. */
export function truncateBody (json: string): string {
  return json.slice(0, Math.floor(json.length / 2))
}

/** The answer plus fields a newer provider version might add, at the top level and in each item. */
export function addExtraFields (body: object): object {
  const items: unknown = (body as { items?: unknown }).items
  const extended: Record<string, unknown> = { ...body, simulator_extra: 'unexpected top-level field', cost: 0.16 }
  if (Array.isArray(items)) {
    extended.items = items.map((item: object) => ({ ...item, simulator_extra: 'unexpected item field', cost: 0.08 }))
  }
  return extended
}

function checkFault (fault: unknown): string | undefined {
  if (!isRecord(fault) || typeof fault.kind !== 'string' || !FAULT_KINDS.has(fault.kind)) {
    return `fault.kind must be one of ${[...FAULT_KINDS].join(', ')}`
  }
  switch (fault.kind) {
    case 'slow':
      return typeof fault.delayMs === 'number' && Number.isFinite(fault.delayMs) && fault.delayMs >= 0
        ? undefined
        : 'fault.delayMs must be a number of milliseconds >= 0'
    case 'http-error':
      return isStatus(fault.status, MIN_ERROR_STATUS) ? undefined : `fault.status must be an HTTP error status (${MIN_ERROR_STATUS}-${MAX_STATUS})`
    case 'provider-error':
      if (!Number.isInteger(fault.code)) return 'fault.code must be an integer'
      if (fault.message !== undefined && typeof fault.message !== 'string') return 'fault.message must be a string'
      if (fault.type !== undefined && typeof fault.type !== 'string') return 'fault.type must be a string'
      if (fault.status !== undefined && !isStatus(fault.status, MIN_STATUS)) return `fault.status must be an HTTP status (${MIN_STATUS}-${MAX_STATUS})`
      return undefined
    default:
      return undefined
  }
}

function checkCount (value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  return Number.isInteger(value) && (value as number) >= 0 ? undefined : `${name} must be an integer >= 0`
}

function isStatus (value: unknown, min: number): boolean {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= MAX_STATUS
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
