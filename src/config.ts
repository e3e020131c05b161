import { existsSync, readFileSync } from 'node:fs'
import { BlockList, isIP, isIPv4 } from 'node:net'
import { parseEnv } from 'node:util'
import { parse as parseDuration } from '@lukeed/ms'
import { Type, type Static, type TSchema } from 'typebox'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { SENDER_PATTERN } from './serwersms/send-sms.js'
import { isSupportedRegion } from './sms/phone.js'
import { PROVIDER_TIME_ZONE } from './sms/send-date.js'
import type { CountryCode } from 'libphonenumber-js'

/** The provider's hard cap per request; SMS_MAX_RECIPIENTS may not exceed it. @see ../../shared/docs/serwersms-api.md */
export const PROVIDER_MAX_RECIPIENTS = 100_000
/** The provider asks for 50–200 numbers per request. */
export const PROVIDER_MAX_BATCH_SIZE = 200
export const MIN_DLR_SECRET_LENGTH = 32
export const MIN_API_KEY_LENGTH = 16

/** The dotenv file read when ENV_FILE names none; the only one allowed not to exist. */
const DEFAULT_ENV_FILE = '.env'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
type LogLevel = typeof LOG_LEVELS[number]

const Flag = (description: string) => Type.Boolean({ default: false, description })
const Duration = (fallback: string, description: string) => Type.String({ default: fallback, minLength: 1, description })

/** What an HTTP header can carry of a bearer token: printable ASCII, no spaces (Node reads header bytes as Latin-1). */
const PRINTABLE_ASCII = '^[!-~]+$'
const IS_PRINTABLE_ASCII = new RegExp(PRINTABLE_ASCII)

/**
 * A host name (letters, digits, -, _ in dot-separated labels), an IPv4 address, or an IPv6 literal
 * (hex digits and at least two colons, an optional %zone): never a port.
 */
const HOST_PATTERN = '^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*|[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9]+)?)$'

/** Environment variables as the gateway reads them; descriptions double as the fix in boot errors. */
export const EnvironmentSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port to listen on (0–65535)' }),
  // An address or a host name, without a port: anything else would pass here and fail the listen, a crash instead of exit 78.
  HOST: Type.String({ minLength: 1, pattern: HOST_PATTERN, default: '0.0.0.0', description: 'address to listen on, without a port, e.g. 0.0.0.0, 127.0.0.1, :: or a host name' }),
  LOG_LEVEL: Type.String({ enum: LOG_LEVELS, default: 'info', description: `one of ${LOG_LEVELS.join(', ')}` }),
  SERWERSMS_API_URL: Type.String({ format: 'uri', pattern: '^https?://', default: 'https://api2.serwersms.pl/', description: 'the provider base URL, e.g. https://api2.serwersms.pl/' }),
  SERWERSMS_TOKEN: Type.Optional(Type.String({ minLength: 1, description: 'API token from the SerwerSMS panel' })),
  SERWERSMS_USERNAME: Type.Optional(Type.String({ minLength: 1, description: 'API user login' })),
  SERWERSMS_PASSWORD: Type.Optional(Type.String({ minLength: 1, description: 'API user password' })),
  SERWERSMS_SENDER: Type.Optional(Type.String({ pattern: SENDER_PATTERN, description: 'an approved sender name (up to 11 letters, digits, spaces, dots or hyphens, with a letter, no space at either end) or a 4- or 9-digit number' })),
  SERWERSMS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 300_000, default: 15_000, description: 'upstream request timeout in milliseconds (100–300000)' }),
  SERWERSMS_SIMULATOR: Flag('true to send to the built-in simulator instead of SerwerSMS'),
  SIMULATOR_LATENCY_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 0, description: 'simulated provider latency in milliseconds' }),
  SIMULATOR_DLR_DELAY_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1000, description: 'delay before the simulator pushes a delivery report, in milliseconds' }),
  DEFAULT_REGION: Type.String({ pattern: '^[A-Z]{2}$', default: 'PL', description: 'ISO 3166 country for numbers written without a country code, e.g. PL' }),
  SERWERSMS_TIME_ZONE: Type.String({ minLength: 1, default: PROVIDER_TIME_ZONE, description: `IANA time zone in which SerwerSMS reads the date of a scheduled send, e.g. ${PROVIDER_TIME_ZONE}` }),
  API_KEYS: Type.Optional(Type.String({ minLength: 1, description: `comma-separated name:key pairs, names [A-Za-z0-9_.-], keys at least ${MIN_API_KEY_LENGTH} characters` })),
  AUTH_DISABLED: Flag('true to accept unauthenticated calls (development only)'),
  PUBLIC_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', description: 'the base URL at which SerwerSMS reaches this gateway, e.g. https://sms.example.com' })),
  DLR_SECRET: Type.Optional(Type.String({ minLength: MIN_DLR_SECRET_LENGTH, description: `a random secret of at least ${MIN_DLR_SECRET_LENGTH} characters (openssl rand -base64 48)` })),
  DLR_URL_TTL: Duration('7 days', 'how long a signed delivery-report URL stays valid after the send, e.g. 7 days'),
  DLR_DEDUP_WINDOW: Duration('1 hour', 'how long a (message id, state) report is remembered to drop repeats, e.g. 1 hour'),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'separate port for /metrics (1–65535); unset serves it on PORT' })),
  METRICS_HOST: Type.Optional(Type.String({ minLength: 1, pattern: HOST_PATTERN, description: 'address the METRICS_PORT listener binds, e.g. 127.0.0.1 or an internal interface; unset: HOST' })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: MIN_API_KEY_LENGTH, pattern: PRINTABLE_ASCII, description: `bearer token required on /metrics, at least ${MIN_API_KEY_LENGTH} printable ASCII characters without spaces (openssl rand -hex 24)` })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'redis://host:6379/0 to share idempotency keys, rate limits and repeated-report recognition between replicas' })),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 600, description: 'requests per client per window' }),
  RATE_LIMIT_WINDOW: Duration('1 minute', 'rate-limit window, e.g. 1 minute or 60000'),
  IDEMPOTENCY_TTL: Duration('24 hours', 'how long an Idempotency-Key is remembered, e.g. 24 hours'),
  IDEMPOTENCY_MAX_KEYS: Type.Integer({ minimum: 100, default: 100_000, description: 'keys kept by the in-memory store (least recently used evicted first)' }),
  SMS_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: PROVIDER_MAX_BATCH_SIZE, default: 100, description: `numbers per upstream request (1–${PROVIDER_MAX_BATCH_SIZE})` }),
  SMS_UPSTREAM_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'upstream requests in flight per gateway call (1–64)' }),
  SMS_MAX_RECIPIENTS: Type.Integer({ minimum: 1, maximum: PROVIDER_MAX_RECIPIENTS, default: 10_000, description: `recipients per gateway call (1–${PROVIDER_MAX_RECIPIENTS})` }),
  SMS_MAX_RECIPIENTS_IN_FLIGHT: Type.Integer({ minimum: 1, default: 100_000, description: 'recipients all calls to this replica may have in flight together, until their answers are taken, at least SMS_MAX_RECIPIENTS; a call that would go past it is refused (503, nothing sent). About 1 KiB of memory each' }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 25_000, description: 'how long in-flight sends may take to finish after SIGTERM, in milliseconds' }),
  ENV_FILE: Type.String({ default: DEFAULT_ENV_FILE, description: `path of a dotenv file read at start; only the default ${DEFAULT_ENV_FILE} may be missing (/dev/null reads none)` })
})
export type Environment = Static<typeof EnvironmentSchema>

export const SimulatorEnvironmentSchema = Type.Object({
  SIMULATOR_HOST: Type.String({ minLength: 1, pattern: HOST_PATTERN, default: '127.0.0.1', description: 'address the simulator listens on, without a port, e.g. 127.0.0.1 or 0.0.0.0' }),
  SIMULATOR_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 4010, description: 'port the simulator listens on' }),
  SIMULATOR_LATENCY_MS: EnvironmentSchema.properties.SIMULATOR_LATENCY_MS,
  SIMULATOR_DLR_DELAY_MS: EnvironmentSchema.properties.SIMULATOR_DLR_DELAY_MS,
  // The gateway's own variable: one .env tells both in which zone SerwerSMS reads a send's date.
  SERWERSMS_TIME_ZONE: EnvironmentSchema.properties.SERWERSMS_TIME_ZONE,
  SIMULATOR_DLR: Type.Boolean({ default: true, description: 'false to stop the simulator pushing delivery reports' }),
  SIMULATOR_TOKEN: Type.Optional(Type.String({ minLength: 1, description: 'the only API token the simulator accepts; unset, any token is accepted unless SIMULATOR_USERNAME is set (then only that user)' })),
  SIMULATOR_USERNAME: Type.Optional(Type.String({ minLength: 1, description: 'the only API user the simulator accepts' })),
  SIMULATOR_PASSWORD: Type.Optional(Type.String({ minLength: 1, description: 'that user\'s password' })),
  LOG_LEVEL: EnvironmentSchema.properties.LOG_LEVEL,
  ENV_FILE: EnvironmentSchema.properties.ENV_FILE
})

/** Never printed, not even when wrong: a boot error may end up in a shared log. */
const SECRET_VARIABLES = new Set(['SERWERSMS_TOKEN', 'SERWERSMS_PASSWORD', 'API_KEYS', 'DLR_SECRET', 'METRICS_TOKEN', 'REDIS_URL', 'SIMULATOR_TOKEN', 'SIMULATOR_PASSWORD'])

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type UpstreamAuth =
  | { kind: 'token', token: string }
  | { kind: 'user', username: string, password: string }

export interface ApiKey { name: string, key: string }

export interface Config {
  server: { host: string, port: number, shutdownGraceMs: number }
  logLevel: LogLevel
  upstream: {
    apiUrl: string
    auth: UpstreamAuth | undefined
    timeoutMs: number
    defaultSender: string | undefined
    /** the zone of the provider's `date` (local time without an offset) */
    timeZone: string
    /** run the built-in simulator in this process and send to it */
    simulator: { enabled: boolean, latencyMs: number, deliveryReportDelayMs: number }
  }
  defaultRegion: CountryCode
  auth: { disabled: boolean, apiKeys: ApiKey[] }
  deliveryReports: { publicUrl: string | undefined, secret: string | undefined, urlTtlMs: number, dedupWindowMs: number }
  /** host: METRICS_HOST, undefined to bind the METRICS_PORT listener to server.host */
  metrics: { port: number | undefined, host: string | undefined, token: string | undefined }
  redisUrl: string | undefined
  rateLimit: { max: number, windowMs: number }
  idempotency: { ttlMs: number, maxKeys: number }
  sending: { batchSize: number, upstreamConcurrency: number, maxRecipients: number, maxRecipientsInFlight: number }
}

export interface SimulatorConfig {
  host: string
  port: number
  latencyMs: number
  deliveryReportDelayMs: number
  deliveryReports: boolean
  token?: string
  username?: string
  password?: string
  /** the zone in which it reads a send's `date`, as the gateway writes it (SERWERSMS_TIME_ZONE) */
  timeZone: string
  logLevel: LogLevel
}

type EnvSource = Record<string, string | undefined>

/**
 * The process environment merged over the optional dotenv file (real variables win, as with
 * `node --env-file`). The only place that reads process.env.
 */
export function readEnvironment (): EnvSource {
  const env: EnvSource = { ...process.env }
  const named = env.ENV_FILE?.trim()
  const file = named || DEFAULT_ENV_FILE
  // A file named in ENV_FILE and not there is a typo or a missing mount: its settings would be left out unnoticed.
  if (!named && !existsSync(file)) return env
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    // Missing, a directory, or a file the process's user may not read (a root-owned .env in the image).
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    const fix = named ? 'or to /dev/null to read none' : 'or remove what is at that path'
    throw new ConfigError(`ENV_FILE=${JSON.stringify(file)} is invalid: it cannot be read (${reason}). Set it to a dotenv file this user can read, ${fix}.`)
  }
  // A byte-order mark (Windows editors write one) would become part of the first name.
  const fromFile = parseEnv(text.replace(/^\uFEFF/, ''))
  for (const [name, value] of Object.entries(fromFile)) {
    // Whitespace in a name is the parser's doing, never the file's meaning: see lostVariableError.
    if (/\s/.test(name)) throw new ConfigError(lostVariableError(file, text, name))
    env[name] ??= value
  }
  const stray = strayLine(text, Object.values(fromFile))
  if (stray !== undefined) throw new ConfigError(strayLineError(file, stray))
  return env
}

/**
 * The first line (1-based, and the variable it seems to set) that is neither NAME=value, nor
 * empty, nor a # comment, nor part of a quoted value running over several lines: one the parser
 * drops without a word when no NAME=value follows it (at the end of the file, or before a
 * comment). "REDIS_URL redis://redis:6379" there left every replica its own idempotency store.
 */
function strayLine (text: string, values: ReadonlyArray<string | undefined>): { line: number, name?: string } | undefined {
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim()
    if (line === '' || line.startsWith('#') || line.includes('=')) continue
    // The last line of a quoted value ends with its quote.
    const inValue = line.replace(/["'`]$/, '')
    if (values.some((value) => value?.includes('\n') === true && value.split('\n').some((part) => part.trim() === inValue))) continue
    const first = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)/.exec(line)?.[1]
    return { line: index + 1, ...(first !== undefined && KNOWN_VARIABLES.has(first) ? { name: first } : {}) }
  }
  return undefined
}

/** Names the line, and the variable when it starts with a known one's name; never the rest of the line, which may be a secret. */
function strayLineError (file: string, { line, name }: { line: number, name?: string }): string {
  const what = name === undefined ? `line ${line}` : `line ${line} (${name}, without "=")`
  return `ENV_FILE=${JSON.stringify(file)} is invalid: ${what} is not NAME=value (nor empty, nor a # comment), and nothing on it would be set. Write it as NAME=value, or start it with # to keep it as a comment.`
}

/**
 * Node's dotenv parser reads a line that is not NAME=value (stray words, or only spaces) as the
 * start of the next line's name, and a tab before a name as part of it: that variable is then
 * silently not set, and a REDIS_URL lost so leaves every replica its own idempotency store. The
 * error names the lost variable and its line, never the text of the line before, which may be
 * a secret pasted without its name.
 */
function lostVariableError (file: string, text: string, name: string): string {
  const lines = name.split('\n')
  const lost = lines.at(-1)!.trim()
  const escaped = lost.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const line = text.split('\n').findIndex((candidate) => new RegExp(`^\\s*(?:export\\s+)?${escaped}\\s*=`).test(candidate.replace(/^\uFEFF/, ''))) + 1
  const where = line > 0 ? `${lost} on line ${line}` : lost
  const cause = lines.length === 1
    ? whitespaceInName(lines[0]!)
    : lines.slice(0, -1).every((before) => before.trim() === '')
      ? 'the line before it holds only spaces or tabs, which is read as the start of its name'
      : 'the line before it is not NAME=value (nor empty, nor a # comment), and is read as the start of its name'
  return `ENV_FILE=${JSON.stringify(file)} is invalid: ${where} would not be set: ${cause}. Fix or remove that line, or start it with # to keep it as a comment.`
}

/** The names of the whitespace an editor may leave in a name unseen; others by their code point. */
const WHITESPACE_NAMES: Readonly<Record<string, string>> = { '\t': 'a tab', ' ': 'a space', '\u00a0': 'a no-break space (U+00A0)', '\v': 'a vertical tab', '\f': 'a form feed' }

/** Says what whitespace a name on one line holds, and where: the parser keeps all but leading spaces. */
function whitespaceInName (name: string): string {
  const index = name.search(/\s/)
  const character = name[index]!
  const what = WHITESPACE_NAMES[character] ?? `the character U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
  if (index === 0) return `it is indented with ${what}, which is read as part of its name`
  if (name.slice(index).trim() === '') return `${what} stands between its name and "=", and is read as part of its name`
  return `its name holds ${what}, and no variable's name has one`
}

/** Every variable the gateway or the stand-alone simulator reads. */
const KNOWN_VARIABLES: ReadonlySet<string> = new Set([...Object.keys(EnvironmentSchema.properties), ...Object.keys(SimulatorEnvironmentSchema.properties)])

export function loadConfig (env: EnvSource = readEnvironment()): Config {
  const vars = parseEnvironment(EnvironmentSchema, env)
  const windowMs = readDuration('RATE_LIMIT_WINDOW', vars.RATE_LIMIT_WINDOW)
  const config: Config = {
    server: { host: readHost('HOST', vars.HOST), port: vars.PORT, shutdownGraceMs: vars.SHUTDOWN_GRACE_MS },
    logLevel: vars.LOG_LEVEL as LogLevel,
    upstream: {
      apiUrl: vars.SERWERSMS_API_URL.endsWith('/') ? vars.SERWERSMS_API_URL : `${vars.SERWERSMS_API_URL}/`,
      auth: readUpstreamAuth(vars),
      timeoutMs: vars.SERWERSMS_TIMEOUT_MS,
      defaultSender: vars.SERWERSMS_SENDER,
      timeZone: readTimeZone(vars.SERWERSMS_TIME_ZONE),
      simulator: {
        enabled: vars.SERWERSMS_SIMULATOR,
        latencyMs: vars.SIMULATOR_LATENCY_MS,
        deliveryReportDelayMs: vars.SIMULATOR_DLR_DELAY_MS
      }
    },
    defaultRegion: readRegion(vars.DEFAULT_REGION),
    auth: { disabled: vars.AUTH_DISABLED, apiKeys: vars.API_KEYS === undefined ? [] : parseApiKeys(vars.API_KEYS) },
    deliveryReports: {
      publicUrl: vars.PUBLIC_URL?.replace(/\/+$/, ''),
      secret: vars.DLR_SECRET,
      urlTtlMs: readDuration('DLR_URL_TTL', vars.DLR_URL_TTL),
      dedupWindowMs: readDuration('DLR_DEDUP_WINDOW', vars.DLR_DEDUP_WINDOW)
    },
    metrics: { port: vars.METRICS_PORT, host: vars.METRICS_HOST === undefined ? undefined : readHost('METRICS_HOST', vars.METRICS_HOST), token: vars.METRICS_TOKEN },
    redisUrl: vars.REDIS_URL === undefined ? undefined : readRedisUrl(vars.REDIS_URL),
    rateLimit: { max: vars.RATE_LIMIT_MAX, windowMs },
    idempotency: { ttlMs: readDuration('IDEMPOTENCY_TTL', vars.IDEMPOTENCY_TTL), maxKeys: vars.IDEMPOTENCY_MAX_KEYS },
    sending: {
      batchSize: vars.SMS_BATCH_SIZE,
      upstreamConcurrency: vars.SMS_UPSTREAM_CONCURRENCY,
      maxRecipients: vars.SMS_MAX_RECIPIENTS,
      maxRecipientsInFlight: vars.SMS_MAX_RECIPIENTS_IN_FLIGHT
    }
  }
  checkCombinations(config)
  return config
}

export function loadSimulatorConfig (env: EnvSource = readEnvironment()): SimulatorConfig {
  const vars = parseEnvironment(SimulatorEnvironmentSchema, env)
  return {
    host: readHost('SIMULATOR_HOST', vars.SIMULATOR_HOST),
    port: vars.SIMULATOR_PORT,
    latencyMs: vars.SIMULATOR_LATENCY_MS,
    deliveryReportDelayMs: vars.SIMULATOR_DLR_DELAY_MS,
    deliveryReports: vars.SIMULATOR_DLR,
    token: vars.SIMULATOR_TOKEN,
    username: vars.SIMULATOR_USERNAME,
    password: vars.SIMULATOR_PASSWORD,
    timeZone: readTimeZone(vars.SERWERSMS_TIME_ZONE),
    logLevel: vars.LOG_LEVEL as LogLevel
  }
}

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule.default

/**
 * Environment values are strings: Ajv converts them to the schema's types and fills in defaults.
 * (Ajv rather than typebox/value, which would add a fifth of a second to every start.)
 * The validator runs once, so it is built for a quick start, not a fast run: checking the schema
 * against the JSON Schema meta-schema first (Ajv's default) compiled that meta-schema, ~50 ms of a
 * cold start, and optimising the generated code costs more than it saves in one run. The schemas
 * are checked against the meta-schema by test/server/schemas.test.ts instead.
 */
function compileEnvironment<T extends TSchema> (schema: T) {
  const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: false, validateSchema: false, code: { optimize: false } })
  addFormats(ajv, ['uri'])
  return ajv.compile(schema)
}

/** Validates only the schema's own variables; empty values count as unset, like `FOO=` in a dotenv file. */
function parseEnvironment<T extends TSchema & { properties: Record<string, TSchema> }> (schema: T, env: EnvSource): Static<T> {
  const raw: Record<string, string> = {}
  for (const name of Object.keys(schema.properties)) {
    const value = env[name]?.trim()
    if (value) raw[name] = value
  }
  const value: Record<string, unknown> = { ...raw }
  const problems: string[] = []
  const seen = new Set<string>()
  const show = (name: string) => SECRET_VARIABLES.has(name) ? `${name} (value hidden)` : `${name}=${JSON.stringify(raw[name] ?? '')}`
  // Ajv's coercion reads a number as JavaScript does: PORT=0x1F90 would be 8080, 8e3 8000, and
  // Infinity or 400 nines unbounded. 15 digits hold every safe integer of that many.
  for (const [name, text] of Object.entries(raw)) {
    const property = schema.properties[name] as { type?: string, description?: string }
    if (property.type !== 'integer' || /^-?\d{1,15}$/.test(text)) continue
    seen.add(name)
    delete value[name]
    problems.push(`${show(name)} is invalid: it is not a whole number of at most 15 decimal digits. Set it to ${property.description ?? 'a valid value'}.`)
  }
  const validate = compileEnvironment(schema)
  if (validate(value) && problems.length === 0) return value as Static<T>
  for (const error of validate.errors ?? []) {
    const name = error.instancePath.slice(1)
    if (seen.has(name)) continue
    seen.add(name)
    const fix = (schema.properties[name] as { description?: string } | undefined)?.description
    const reason = error.keyword === 'pattern' || error.keyword === 'format' ? 'has the wrong format' : error.message
    problems.push(`${show(name)} is invalid: ${reason}. Set it to ${fix ?? 'a valid value'}.`)
  }
  throw new ConfigError(problems.join('\n'))
}

const SECOND_MS = 1000
const MINUTE_MS = 60 * SECOND_MS

/**
 * The shortest value each duration may have, in words, and its default as an example. A number alone is milliseconds, so
 * DLR_URL_TTL=7 meant as days would otherwise expire every report URL before SerwerSMS pushes it.
 */
const MIN_DURATIONS = {
  RATE_LIMIT_WINDOW: [SECOND_MS, '1 second', '1 minute'],
  DLR_URL_TTL: [MINUTE_MS, '1 minute', '7 days'],
  DLR_DEDUP_WINDOW: [SECOND_MS, '1 second', '1 hour'],
  // Shorter, a key would lapse under a client's retries (Retry-After 1 s on 409, 5 s on 503), and a retry then sends again.
  IDEMPOTENCY_TTL: [MINUTE_MS, '1 minute', '24 hours']
} as const satisfies Record<string, readonly [number, string, string]>

/**
 * The longest any duration may be: a year. Longer ones are no setting anyone means, and some broke
 * later: a DLR_URL_TTL of 9e15 ms put every signed URL's expiry past what a safe integer holds, and
 * every send with PUBLIC_URL failed.
 */
const LONGEST_DURATION_MS = 366 * 24 * 60 * MINUTE_MS

/** Whole milliseconds: Redis refuses a fractional PX, and "1.2345 s" is 1235 ms to anyone. */
function readDuration (name: keyof typeof MIN_DURATIONS, text: string): number {
  const parsed = /^\d+$/.test(text) ? Number(text) : parseDuration(text)
  const ms = parsed === undefined ? undefined : Math.round(parsed)
  if (ms === undefined || !Number.isSafeInteger(ms) || ms <= 0) {
    throw new ConfigError(`${name}=${JSON.stringify(text)} is invalid: not a duration. Set it to milliseconds or a duration such as "1 minute", "24 hours".`)
  }
  const [minimumMs, minimum, example] = MIN_DURATIONS[name]
  if (ms < minimumMs) {
    throw new ConfigError(`${name}=${JSON.stringify(text)} is invalid: ${ms} ms is shorter than ${minimum} (a number alone is milliseconds). Set it to a duration with its unit, such as "${example}".`)
  }
  if (ms > LONGEST_DURATION_MS) {
    throw new ConfigError(`${name}=${JSON.stringify(text)} is invalid: ${ms} ms is longer than a year, the most any duration may be. Set it to a duration such as "${example}".`)
  }
  return ms
}

function readTimeZone (zone: string): string {
  // The default needs no check, and checking loads ICU's time-zone data: 8 MB of idle memory that
  // a gateway otherwise takes on only at its first scheduled send.
  if (zone === PROVIDER_TIME_ZONE) return zone
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    throw new ConfigError(`SERWERSMS_TIME_ZONE=${JSON.stringify(zone)} is invalid: not an IANA time zone. Set it to a name such as ${PROVIDER_TIME_ZONE} or UTC.`)
  }
}

function readRegion (code: string): CountryCode {
  if (!isSupportedRegion(code)) {
    throw new ConfigError(`DEFAULT_REGION=${JSON.stringify(code)} is invalid: not a country libphonenumber knows. Set it to an ISO 3166 code such as PL or DE.`)
  }
  return code
}

function readUpstreamAuth (vars: Environment): UpstreamAuth | undefined {
  if (vars.SERWERSMS_TOKEN) return { kind: 'token', token: vars.SERWERSMS_TOKEN }
  if (vars.SERWERSMS_USERNAME && vars.SERWERSMS_PASSWORD) {
    return { kind: 'user', username: vars.SERWERSMS_USERNAME, password: vars.SERWERSMS_PASSWORD }
  }
  if (vars.SERWERSMS_USERNAME || vars.SERWERSMS_PASSWORD) {
    const missing = vars.SERWERSMS_USERNAME ? 'SERWERSMS_PASSWORD' : 'SERWERSMS_USERNAME'
    throw new ConfigError(`${missing} is missing: the API user needs both SERWERSMS_USERNAME and SERWERSMS_PASSWORD. Set it, or use SERWERSMS_TOKEN instead.`)
  }
  return undefined
}

const API_KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/
/** The client of a request no key was found for (and of every request with AUTH_DISABLED): no API_KEYS name may be it. */
export const ANONYMOUS_CLIENT = 'anonymous'

/** Digits and dots are an IPv4 address or nothing: as a host name, 0.0.0.0.0 would fail the listen (exit 1, HOST not named). */
function readHost (name: 'HOST' | 'METRICS_HOST' | 'SIMULATOR_HOST', host: string): string {
  if (/^[\d.]+$/.test(host) && !isIPv4(host)) {
    throw new ConfigError(`${name}="${host}" is invalid: it is not an IPv4 address. Set it to address to listen on, without a port, e.g. 0.0.0.0, 127.0.0.1, :: or a host name.`)
  }
  return host
}

/**
 * Why the API's and the metrics' listeners cannot share one port at these addresses, or
 * undefined when they can: two IP addresses of this machine, neither the wildcard, each bind the
 * port for itself. The wildcard (0.0.0.0, ::) takes it on every address, and a host name may
 * resolve to the other's address, which only the listen would tell, as a port "already taken".
 */
function sharedPortConflict (host: string, metricsHost: string | undefined): string | undefined {
  const fix = 'Set METRICS_PORT to another port, or unset it to serve /metrics on PORT.'
  if (metricsHost === undefined) return `and METRICS_HOST is unset, so both listeners would bind it at HOST. ${fix}`
  const [api, metrics] = [canonicalAddress(host), canonicalAddress(metricsHost)]
  for (const [name, value, address] of [['HOST', host, api], ['METRICS_HOST', metricsHost, metrics]] as const) {
    if (address === undefined) return `and ${name}=${JSON.stringify(value)} is a name, not an IP address: the two listeners may bind one address. ${fix}`
    if (address === '0.0.0.0' || address === '::') return `and ${name}=${JSON.stringify(value)} binds it on every address of this machine: the two listeners cannot both bind it. ${fix}`
  }
  if (api === metrics) return `at the same address (HOST=${JSON.stringify(host)}, METRICS_HOST=${JSON.stringify(metricsHost)}): both listeners cannot bind it. ${fix}`
  return undefined
}

/**
 * An IP address in one spelling (::1 and 0:0:0:0:0:0:0:1 alike, an IPv4-mapped one as IPv4, a
 * zone kept: fe80::1%eth0 and fe80::1%eth1 are two interfaces'), or undefined for a host name.
 */
function canonicalAddress (host: string): string | undefined {
  const version = isIP(host)
  if (version === 4) return host
  if (version !== 6) return undefined
  const [address, zone] = host.split('%') as [string, string | undefined]
  const spelled = new URL(`http://[${address}]/`).hostname.slice(1, -1)
  const mapped = /^::ffff:([\da-f]{1,4}):([\da-f]{1,4})$/.exec(spelled)
  if (mapped !== null) {
    const [high, low] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)]
    return [high >> 8, high & 255, low >> 8, low & 255].join('.')
  }
  return zone === undefined ? spelled : `${spelled}%${zone}`
}

/**
 * ioredis throws on a URL it cannot parse (a port that is not a number, a password with a stray
 * "%") when the client is made, after the configuration was taken: the process would crash with
 * the URL, password included, in its log. Checked here instead, and never echoed.
 */
function readRedisUrl (text: string): string {
  let url: URL
  try {
    url = new URL(text)
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    throw new ConfigError('REDIS_URL is not a valid URL (its value is not shown: it may hold a password). Set it as redis://[:password@]host[:port][/db], with the password URL-encoded.')
  }
  if (url.hostname === '') throw new ConfigError('REDIS_URL names no host (its value is not shown). Set it as redis://[:password@]host[:port][/db].')
  // ioredis would send SELECT NaN for /abc, and its refusal would end the process once Redis answers.
  if (!/^\/?\d*$/.test(url.pathname)) throw new ConfigError('REDIS_URL names a database that is not a number (its value is not shown). Set it as redis://[:password@]host[:port][/db], db a number such as 0.')
  return text
}

export function parseApiKeys (text: string): ApiKey[] {
  const keys: ApiKey[] = []
  for (const pair of text.split(',')) {
    const entry = pair.trim()
    if (entry === '') continue
    // Entries are named by their place, never by what is before the colon: written key:name, that is the key.
    const place = `API_KEYS entry ${keys.length + 1}`
    const colon = entry.indexOf(':')
    const name = entry.slice(0, colon)
    const key = entry.slice(colon + 1)
    if (colon < 1 || !API_KEY_NAME.test(name)) {
      throw new ConfigError(`${place} has no valid name before its colon. Set it to name:key pairs, names of letters, digits, _ . -`)
    }
    // A caller presents the key as "Bearer <key>", which cannot hold whitespace: such a key could never match.
    if (/\s/.test(key)) {
      throw new ConfigError(`${place} has whitespace in its key (after the colon, or inside it); no caller could present it. Write name:key with nothing between them.`)
    }
    // A key beyond ASCII, sent in UTF-8 as clients do, would never match.
    if (!IS_PRINTABLE_ASCII.test(key)) {
      throw new ConfigError(`${place} has a character outside printable ASCII in its key; no caller could present it. Use letters, digits and ASCII punctuation (openssl rand -hex 24).`)
    }
    if (key.length < MIN_API_KEY_LENGTH) {
      throw new ConfigError(`${place} has a key shorter than ${MIN_API_KEY_LENGTH} characters. Set a longer random key (openssl rand -hex 24).`)
    }
    // Several keys may share a name: a client's old and new key while it rotates, one budget, one
    // series, one idempotency scope (a retry with the new key replays what the old one sent).
    if (name === ANONYMOUS_CLIENT) throw new ConfigError(`${place} is named "${ANONYMOUS_CLIENT}", the name the log and metrics give callers without a key. Give the client another name.`)
    if (keys.some((k) => k.key === key)) throw new ConfigError(`${place} has a key another client already has. Give each client its own key.`)
    keys.push({ name, key })
  }
  return keys
}

/**
 * Keys and secrets printed in this repository — the quickstart's demo key, .env.example's sample
 * keys, docker-compose.yml's defaults, the compose simulator's credentials (today's password, an
 * earlier token) — for a
 * gateway in front of a simulator. In front of SerwerSMS itself, anyone who has read them could
 * send billed SMS or report any message delivered, and the simulator's would fail every send.
 */
export const PUBLISHED_SECRETS: ReadonlySet<string> = new Set([
  'demo-key-0123456789abcdef',
  'change-me-0123456789',
  'change-me-too-0123456789',
  'dev-api-key-change-me',
  'dev-only-dlr-secret-change-me-0123456789abcdef',
  'dev-simulator-password',
  'dev-simulator-token'
])
/** The API user docker-compose.yml gives its simulator and, by default, the gateway: SerwerSMS knows no such user. */
export const COMPOSE_SIMULATOR_USERNAME = 'compose-simulator'
/** The provider's own API hosts (api2.serwersms.pl and the like). */
const PROVIDER_HOST = /(?:^|\.)serwersms\.pl$/i

/** SerwerSMS itself, not a simulator, gets the sends (and pushes the delivery reports). */
export function sendsToProvider ({ simulator, apiUrl }: Config['upstream']): boolean {
  // api2.serwersms.pl. (fully qualified) is the same host, and must not skip the refusals.
  return !simulator.enabled && PROVIDER_HOST.test(new URL(apiUrl).hostname.replace(/\.$/, ''))
}

function refusePublishedSecrets ({ upstream, auth, deliveryReports }: Config): void {
  if (!sendsToProvider(upstream)) return
  // The same exposure as a published key, with no key at all.
  if (auth.disabled) {
    throw new ConfigError('AUTH_DISABLED=true, and SERWERSMS_API_URL is SerwerSMS itself: anyone who can reach the gateway could send billed SMS. Set API_KEYS=name:key[,name:key…] (a key: openssl rand -hex 24) and unset AUTH_DISABLED; it is for a gateway in front of a simulator.')
  }
  if (upstream.auth?.kind === 'token' && PUBLISHED_SECRETS.has(upstream.auth.token)) {
    throw new ConfigError('SERWERSMS_TOKEN is the token docker-compose.yml published for its simulator, and SERWERSMS_API_URL is SerwerSMS itself: it would refuse every send. Set SERWERSMS_TOKEN to the token from your SerwerSMS panel, or unset it and set SERWERSMS_USERNAME and SERWERSMS_PASSWORD.')
  }
  if (upstream.auth?.kind === 'user' && PUBLISHED_SECRETS.has(upstream.auth.password)) {
    throw new ConfigError('SERWERSMS_PASSWORD is the simulator\'s password docker-compose.yml publishes, and SERWERSMS_API_URL is SerwerSMS itself: it would refuse every send. Set SERWERSMS_USERNAME and SERWERSMS_PASSWORD to your SerwerSMS API user, or set SERWERSMS_TOKEN.')
  }
  if (upstream.auth?.kind === 'user' && upstream.auth.username === COMPOSE_SIMULATOR_USERNAME) {
    throw new ConfigError(`SERWERSMS_USERNAME=${JSON.stringify(COMPOSE_SIMULATOR_USERNAME)} is the simulator's API user docker-compose.yml publishes, and SERWERSMS_API_URL is SerwerSMS itself: it would refuse every send. Set SERWERSMS_USERNAME to your SerwerSMS API user (with its SERWERSMS_PASSWORD), or set SERWERSMS_TOKEN.`)
  }
  const published = auth.apiKeys.findIndex((apiKey) => PUBLISHED_SECRETS.has(apiKey.key))
  if (published >= 0) {
    throw new ConfigError(`API_KEYS entry ${published + 1} has a key published in this repository (the quickstart's, .env.example's or docker-compose.yml's), and SERWERSMS_API_URL is SerwerSMS itself: anyone could send billed SMS with it. Set a key of your own (openssl rand -hex 24).`)
  }
  if (deliveryReports.secret !== undefined && PUBLISHED_SECRETS.has(deliveryReports.secret)) {
    const none = deliveryReports.publicUrl === undefined ? ', or set it empty (DLR_SECRET=) too, as PUBLIC_URL is, to take no delivery reports' : ''
    throw new ConfigError(`DLR_SECRET is the one docker-compose.yml publishes, and SERWERSMS_API_URL is SerwerSMS itself: anyone could sign delivery reports. Set a secret of your own (openssl rand -base64 48)${none}.`)
  }
}

type Network = readonly [address: string, prefix: number, type: 'ipv4' | 'ipv6']

/**
 * Addresses SerwerSMS cannot reach from the internet, grouped by the reason the boot error gives;
 * the first group that holds an address names it. An IPv4-mapped IPv6 address counts as its IPv4 one.
 */
const UNREACHABLE_NETWORKS: ReadonlyArray<readonly [reason: string, networks: readonly Network[]]> = [
  ['an unspecified address (a listener\'s "every address", which no one can connect to)', [['0.0.0.0', 32, 'ipv4'], ['::', 128, 'ipv6']]],
  ['a loopback, private or link-local address', [
    ['10.0.0.0', 8, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['127.0.0.0', 8, 'ipv4'], ['169.254.0.0', 16, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'],
    // fec0::/10: the deprecated site-local range, private in effect.
    ['::1', 128, 'ipv6'], ['fc00::', 7, 'ipv6'], ['fe80::', 10, 'ipv6'], ['fec0::', 10, 'ipv6']
  ]],
  ['a multicast or broadcast address', [['224.0.0.0', 4, 'ipv4'], ['255.255.255.255', 32, 'ipv4'], ['ff00::', 8, 'ipv6']]],
  // 0/8 "this network", 192.0.0.0/24 protocol assignments, 198.18/15 benchmarking, 240/4 future use, ::/96 IPv4-compatible.
  ['a reserved address that the internet does not route', [
    ['0.0.0.0', 8, 'ipv4'], ['192.0.0.0', 24, 'ipv4'], ['198.18.0.0', 15, 'ipv4'], ['240.0.0.0', 4, 'ipv4'], ['::', 96, 'ipv6']
  ]],
  // A NAT64 prefix (RFC 6052, RFC 8215) names an IPv4 host through this network's own translator.
  ['a NAT64 address, which only this network\'s translator reaches', [['64:ff9b::', 96, 'ipv6'], ['64:ff9b:1::', 48, 'ipv6']]]
]
const UNREACHABLE_BLOCKS = UNREACHABLE_NETWORKS.map(([reason, networks]) => {
  const block = new BlockList()
  for (const [network, prefix, type] of networks) block.addSubnet(network, prefix, type)
  return [reason, block] as const
})

/** Names only a local network resolves: mDNS, names set aside for private use (host.docker.internal), home routers'. */
const LOCAL_NAME_SUFFIXES = ['local', 'internal', 'lan', 'home.arpa', 'localdomain']

/**
 * Why SerwerSMS, on the internet, cannot reach this host, or undefined when it may: a name of one
 * label (a compose service, a container) resolves only on a local network.
 */
function whyUnreachable (hostname: string): string | undefined {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase()
  const family = isIP(host)
  if (family === 0) {
    if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is this machine`
    if (!host.includes('.')) return `${host} is a name of one label, which only a local network resolves`
    const suffix = LOCAL_NAME_SUFFIXES.find((name) => host === name || host.endsWith(`.${name}`))
    return suffix === undefined ? undefined : `${host} is a name under .${suffix}, which only a local network resolves`
  }
  const type = family === 4 ? 'ipv4' : 'ipv6'
  const reason = UNREACHABLE_BLOCKS.find(([, block]) => block.check(host, type))?.[0]
  return reason === undefined ? undefined : `${host} is ${reason}`
}

function refuseUnreachablePublicUrl ({ upstream, deliveryReports: { publicUrl } }: Config): void {
  if (publicUrl === undefined || !sendsToProvider(upstream)) return
  const reason = whyUnreachable(new URL(publicUrl).hostname)
  if (reason !== undefined) {
    throw new ConfigError(`PUBLIC_URL=${JSON.stringify(publicUrl)} is invalid: SERWERSMS_API_URL is SerwerSMS itself, which pushes delivery reports to PUBLIC_URL from the internet, and ${reason}: every report would be lost. Set it to the public base URL at which SerwerSMS reaches this gateway, e.g. https://sms.example.com, or set it empty (PUBLIC_URL=, and DLR_SECRET= unless the SerwerSMS panel holds a report URL from npm run dlr-url) to send without delivery reports.`)
  }
}

/** Unchanged by a URL-decode, and nothing after the path for /dlr to collide with. */
const IS_PLAIN_BASE_URL = /^https?:\/\/[^?#%+\s]+$/

function checkCombinations (config: Config): void {
  const { upstream, auth, deliveryReports, metrics, server } = config
  if (!upstream.simulator.enabled && upstream.auth === undefined) {
    throw new ConfigError('SerwerSMS credentials are missing. Set SERWERSMS_TOKEN (or SERWERSMS_USERNAME and SERWERSMS_PASSWORD), or SERWERSMS_SIMULATOR=true to use the built-in simulator.')
  }
  if (!auth.disabled && auth.apiKeys.length === 0) {
    throw new ConfigError('API_KEYS is missing: callers could not authenticate. Set API_KEYS=name:key[,name:key…], or AUTH_DISABLED=true for local development.')
  }
  if (deliveryReports.publicUrl !== undefined && !IS_PLAIN_BASE_URL.test(deliveryReports.publicUrl)) {
    throw new ConfigError('PUBLIC_URL must be a plain base URL, without a query, a fragment, "%" or "+": the gateway appends /dlr?… to it, and SerwerSMS may URL-decode the whole dlr_url once more, which must leave it unchanged.')
  }
  if (deliveryReports.publicUrl?.endsWith('/dlr') === true) {
    throw new ConfigError('PUBLIC_URL ends in /dlr: it is the base URL callers and SerwerSMS reach the gateway at, and the gateway appends /dlr to it itself (reports would go to …/dlr/dlr). Set it without /dlr.')
  }
  if (metrics.host !== undefined && metrics.port === undefined) {
    throw new ConfigError(`METRICS_HOST=${JSON.stringify(metrics.host)} is set without METRICS_PORT: /metrics is then served on PORT, at HOST, and METRICS_HOST would bind nothing. Set METRICS_PORT too, or unset METRICS_HOST.`)
  }
  if (metrics.port === server.port) {
    const conflict = sharedPortConflict(server.host, metrics.host)
    if (conflict !== undefined) throw new ConfigError(`METRICS_PORT=${metrics.port} is the port the API listens on (PORT), ${conflict}`)
  }
  if (deliveryReports.publicUrl !== undefined && deliveryReports.secret === undefined) {
    throw new ConfigError(`DLR_SECRET is missing: PUBLIC_URL is set, so delivery-report URLs must be signed. Set DLR_SECRET to at least ${MIN_DLR_SECRET_LENGTH} random characters (openssl rand -base64 48), or leave PUBLIC_URL empty too (PUBLIC_URL=; docker-compose.yml fills in its own when it is unset) to send without delivery reports.`)
  }
  if (config.sending.maxRecipientsInFlight < config.sending.maxRecipients) {
    throw new ConfigError(`SMS_MAX_RECIPIENTS_IN_FLIGHT=${config.sending.maxRecipientsInFlight} is below SMS_MAX_RECIPIENTS=${config.sending.maxRecipients}: a call with as many recipients as it may have would always be refused as busy. Raise SMS_MAX_RECIPIENTS_IN_FLIGHT, or lower SMS_MAX_RECIPIENTS.`)
  }
  refusePublishedSecrets(config)
  refuseUnreachablePublicUrl(config)
}
