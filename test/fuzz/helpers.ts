import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Test } from 'tap'
import { request } from 'undici'
import { ERROR_CATALOGUE, type ErrorCode, type FieldError } from '../../src/errors.js'
import type { GatewayUnderTest } from '../helper.js'

/** One answer of the gateway, however it was obtained (inject or a real socket). */
export interface Answer {
  status: number
  contentType: string
  body: string
  headers: Record<string, string | string[] | undefined>
}

export interface ProblemAnswer {
  code: ErrorCode
  status: number
  detail: string
  errors?: FieldError[]
}

export interface Call {
  method: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  /** sent as is: a generated body is serialised by the arbitrary, so that raw and broken JSON can be sent too */
  payload?: string | Buffer
}

/** FUZZ_SEED=<n> replays a failed run; otherwise every run explores new inputs. */
export function fuzzSeed (): number {
  const fixed = process.env.FUZZ_SEED
  return fixed === undefined || fixed === '' ? Math.floor(Math.random() * 0x7fffffff) : Number(fixed)
}

export async function inject (gw: GatewayUnderTest, call: Call): Promise<Answer> {
  const response = await gw.app.inject({
    method: call.method,
    url: call.url,
    headers: call.headers ?? {},
    ...(call.payload === undefined ? {} : { payload: call.payload })
  })
  return {
    status: response.statusCode,
    contentType: String(response.headers['content-type'] ?? ''),
    body: response.body,
    headers: response.headers as Answer['headers']
  }
}

/** The same call over a real loopback socket, through node's HTTP parser and the full server. */
export async function overSocket (gw: GatewayUnderTest, call: Call): Promise<Answer> {
  const response = await request(`${gw.url}${call.url}`, {
    method: call.method,
    headers: call.headers ?? {},
    ...(call.payload === undefined ? {} : { body: call.payload })
  })
  const body = await response.body.text()
  return {
    status: response.statusCode,
    contentType: String(response.headers['content-type'] ?? ''),
    body,
    headers: response.headers
  }
}

/**
 * Asserts (by throwing, so fast-check can shrink) that an error answer is a well-formed problem:
 * never a 5xx, problem+json, a catalogued code matching the status.
 */
export function readProblem (answer: Answer): ProblemAnswer {
  assert.ok(answer.status < 500, `a 5xx answer: ${answer.status} ${answer.body.slice(0, 500)}`)
  assert.ok(answer.status >= 400, `expected an error, got ${answer.status} ${answer.body.slice(0, 200)}`)
  assert.match(answer.contentType, /^application\/problem\+json/, `problem media type, got "${answer.contentType}" for ${answer.status} ${answer.body.slice(0, 200)}`)
  const problem = JSON.parse(answer.body) as ProblemAnswer & { type: unknown, title: unknown }
  assert.ok(Object.hasOwn(ERROR_CATALOGUE, problem.code), `catalogued code, got ${String(problem.code)}`)
  assert.equal(ERROR_CATALOGUE[problem.code].status, answer.status, `${problem.code} answers ${ERROR_CATALOGUE[problem.code].status}`)
  assert.equal(problem.status, answer.status)
  assert.equal(typeof problem.type, 'string')
  assert.equal(typeof problem.title, 'string')
  assert.equal(typeof problem.detail, 'string')
  if (problem.errors !== undefined) {
    assert.ok(Array.isArray(problem.errors) && problem.errors.length > 0, 'errors, when present, lists at least one field')
    for (const error of problem.errors) {
      assert.equal(typeof error.field, 'string')
      assert.equal(typeof error.reason, 'string')
    }
  }
  return problem
}

/** Asserts that a validation problem names the expected field (by prefix: `/to` matches `/to/3`). */
export function assertNamesField (problem: ProblemAnswer, field: string): void {
  assert.equal(problem.code, 'GW_VALIDATION_FAILED', `validation problem expected, got ${problem.code}: ${problem.detail}`)
  assert.ok(problem.errors !== undefined, `a validation problem lists its fields: ${problem.detail}`)
  assert.ok(
    problem.errors.some((e) => e.field === field || e.field.startsWith(`${field}/`)),
    `errors name ${field}: ${JSON.stringify(problem.errors).slice(0, 500)}`
  )
}

const PROTOTYPES = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype, String: String.prototype }

/** The own keys of the built-in prototypes, to prove afterwards that nothing was added to them. */
export function snapshotPrototypes (): Record<string, string[]> {
  return Object.fromEntries(Object.entries(PROTOTYPES).map(([name, proto]) => [name, Reflect.ownKeys(proto).map(String).sort()]))
}

export function assertPrototypesIntact (before: Record<string, string[]>): void {
  assert.deepEqual(snapshotPrototypes(), before, 'built-in prototypes unchanged')
  const probe = {} as Record<string, unknown>
  for (const key of ['polluted', 'isAdmin', 'sms', 'x']) assert.equal(probe[key], undefined, `Object.prototype.${key} is not set`)
}

const INTERRUPT_AFTER_MS = 40_000
/**
 * tap runs each file as a process of its own and kills it at 120 s (package.json): the
 * properties of one file share a budget inside that, so that several of them stopped by the time
 * limit on a slow machine cannot add up past it. Each still gets a few seconds, however late.
 */
const FILE_BUDGET_MS = 80_000
const LEAST_PROPERTY_MS = 3_000
const fileStarted = performance.now()

function propertyTimeLimitMs (): number {
  const left = FILE_BUDGET_MS - (performance.now() - fileStarted)
  return Math.max(LEAST_PROPERTY_MS, Math.min(INTERRUPT_AFTER_MS, Math.round(left)))
}

/**
 * Runs a property with the run's seed; on failure the tap message carries fast-check's report
 * (seed, path and the shrunk counterexample) so the run can be replayed with FUZZ_SEED. On a slow
 * machine the time limit may stop a passing property before `numRuns`: that is noted as a comment,
 * not a failure (the inputs that ran all passed); a counterexample fails the test however late it
 * was found. Returns the number of inputs that ran.
 */
export async function checkProperty<T> (
  t: Test,
  name: string,
  property: fc.IAsyncPropertyWithHooks<T> | fc.IAsyncProperty<T>,
  options: { seed: number, numRuns: number }
): Promise<number> {
  // Bounds shrinking too: a failure found late still leaves time to report it.
  const started = performance.now()
  const limitMs = propertyTimeLimitMs()
  const details = await fc.check(property, { seed: options.seed, numRuns: options.numRuns, plugins: [fc.interruptAfterTimeLimit(limitMs)] })
  const ms = Math.round(performance.now() - started)
  if (details.failed) {
    t.fail(`${name}: replay with FUZZ_SEED=${options.seed}\n${describeFailure(details)}`)
  } else if (details.interrupted) {
    t.comment(`${name}: the ${limitMs} ms limit stopped it after ${details.numRuns} of ${options.numRuns} generated inputs, all passed (${ms} ms, seed ${options.seed})`)
    t.ok(details.numRuns > 0, `${name}: some inputs ran before the time limit`)
  } else {
    t.equal(details.numRuns, options.numRuns, `${name}: ${details.numRuns} generated inputs in ${ms} ms, seed ${options.seed}`)
  }
  return details.numRuns
}

const MAX_REPORTED_CHARACTERS = 800

const clip = (text: string) => text.length > MAX_REPORTED_CHARACTERS ? `${text.slice(0, MAX_REPORTED_CHARACTERS)}… (${text.length} characters)` : text

/** fast-check's report, with the counterexample clipped: a generated body can be megabytes long. */
function describeFailure<T> (details: fc.RunDetails<T>): string {
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
  return [
    `failed after ${details.numRuns} runs, shrunk ${details.numShrinks} times (seed ${details.seed}, path "${clip(details.counterexamplePath ?? '')}")`,
    `counterexample: ${clip(fc.stringify(details.counterexample))}`,
    `error: ${clip(error)}`
  ].join('\n')
}

/** Gateway log lines at error level or above: a fuzzed input must never make the gateway log a failure. */
export function errorLogLines (gw: GatewayUnderTest): string[] {
  return gw.logs.lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)
}
