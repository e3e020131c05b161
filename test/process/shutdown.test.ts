import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { Agent, Client, request } from 'undici'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js'
import { freePort, TEST_API_KEY, UPSTREAM_TOKEN } from '../helper.js'
import { NO_CHILD_COVERAGE, startRedis, waitFor } from '../servers.js'

/**
 * The gateway as operators run it: a real `node src/server.ts` process, stopped with SIGTERM.
 * The simulator runs in this test process, so that it can hold sends in flight.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EX_CONFIG = 78
const STARTUP_TIMEOUT_MS = 30_000

interface Exit { code: number | null, signal: NodeJS.Signals | null, at: number }

interface GatewayProcess {
  url: string
  port: number
  /** stdout lines: pino's JSON, since stdout is not a TTY */
  stdout: string[]
  stderr: () => string
  /** resolves once the process has exited and its stdout and stderr are read to the end; `at` is when it exited */
  exited: Promise<Exit>
  kill: (signal: NodeJS.Signals) => void
  /** undefined while running, and until its output is read to the end */
  exit: () => Exit | undefined
}

/** The environment a gateway process gets: nothing inherited but PATH, so the host's settings cannot leak in. */
function processEnvironment (env: Record<string, string | undefined>): Record<string, string> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    ...NO_CHILD_COVERAGE,
    HOST: '127.0.0.1',
    // No dotenv file: only the default .env may be missing, a file ENV_FILE names must be there.
    ENV_FILE: '/dev/null',
    LOG_LEVEL: 'info',
    SERWERSMS_TOKEN: UPSTREAM_TOKEN,
    API_KEYS: `billing:${TEST_API_KEY}`,
    ...env
  }
  return Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined))
}

function spawnGateway (t: Test, env: Record<string, string | undefined>): GatewayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: ROOT, env: processEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  let stderr = ''
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    stdout.push(...lines.filter(Boolean))
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  let exit: Exit | undefined
  // The time of 'exit' is when the process ended; its output is complete only at 'close', once
  // the pipes are drained: `exited` waits for both, so that stdout and stderr can be read after it.
  const ended = once(child, 'exit').then(([code, signal]): Exit => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, at: Date.now() }))
  const exited = Promise.all([ended, once(child, 'close')]).then(([ending]) => {
    exit = ending
    return ending
  })
  t.teardown(async () => {
    if (exit === undefined) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const port = Number(env.PORT ?? 0)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stdout,
    stderr: () => stderr,
    exited,
    kill: (signal) => child.kill(signal),
    exit: () => exit
  }
}

/** Starts the gateway process against `simulator` and waits until it answers /healthz. */
async function startGatewayProcess (t: Test, simulator: Simulator, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = await freePort()
  const gateway = spawnGateway(t, { PORT: String(port), SERWERSMS_API_URL: simulator.url, ...env })
  await waitFor('the gateway to answer /healthz', async () => {
    if (gateway.exit() !== undefined) throw new Error(`the gateway exited at start: ${gateway.stderr()}`)
    try {
      const client = new Client(gateway.url)
      const { statusCode } = await client.request({ method: 'GET', path: '/healthz' }).finally(() => client.close())
      return statusCode === 200
    } catch {
      return false
    }
  }, STARTUP_TIMEOUT_MS)
  return gateway
}

async function startTestSimulator (t: Test, options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = await startSimulator({ credentials: { token: UPSTREAM_TOKEN }, deliveryReports: false, logger: false, ...options })
  t.teardown(() => simulator.close())
  return simulator
}

interface Answer { status: number, body: Record<string, unknown>, connection: string | undefined }

/**
 * POST /sms through `agent` (one connection per request in flight). `keepAlive: false` asks the
 * server to close the connection after the answer, as a client without a pool would.
 */
async function postSms (gateway: GatewayProcess, body: unknown, agent: Agent, { keepAlive = true } = {}): Promise<Answer> {
  const response = await request(`${gateway.url}/sms`, {
    method: 'POST',
    dispatcher: agent,
    reset: !keepAlive,
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  const connection = response.headers.connection
  return { status: response.statusCode, body: await response.body.json() as Record<string, unknown>, connection: typeof connection === 'string' ? connection : undefined }
}

/** What became of a request made after SIGTERM: an HTTP status, or the network error that stopped it. */
async function tryRequest (url: string, path: string): Promise<{ status: number } | { error: string }> {
  const client = new Client(url, { connectTimeout: 2000 })
  try {
    const response = await client.request({ method: 'GET', path, headersTimeout: 5000, bodyTimeout: 5000 })
    await response.body.text()
    return { status: response.statusCode }
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    return { error: cause?.code ?? (error as { code?: string }).code ?? (error as Error).message }
  } finally {
    await client.destroy()
  }
}

const logEntries = (gateway: GatewayProcess) => gateway.stdout.flatMap((line) => {
  try {
    return [JSON.parse(line) as { level: number, msg: string, [key: string]: unknown }]
  } catch {
    return []
  }
})

t.test('SIGTERM: in-flight sends get their answers, new callers are turned away, the process exits 0', async (t) => {
  // Long enough for all five sends to be at the provider at once on a loaded machine.
  const latencyMs = 3000
  const simulator = await startTestSimulator(t, { latencyMs })
  // Well past what a clean exit takes (the sends' latency and slack), so that exit code 0 says no
  // connection was waited for until the grace period ran out.
  const graceMs = 10_000
  const gateway = await startGatewayProcess(t, simulator, { SHUTDOWN_GRACE_MS: String(graceMs) })
  const agent = new Agent({ connections: 10 })
  t.teardown(() => agent.destroy())

  // An idle keep-alive connection opened before the signal, to see what a pooled client meets.
  const pooled = new Client(gateway.url)
  t.teardown(() => pooled.destroy())
  t.equal((await pooled.request({ method: 'GET', path: '/healthz' }).then(async (r) => { await r.body.text(); return r.statusCode })), 200)

  const SENDS = 5
  const inFlight = Array.from({ length: SENDS }, (_, i) =>
    postSms(gateway, { to: [`+4850060070${i}`, `+4851060070${i}`], text: `in flight ${i}` }, agent))
  await waitFor('every send to reach the provider', () => simulator.stats.inFlight === SENDS, 10_000)

  const signalledAt = Date.now()
  gateway.kill('SIGTERM')
  await waitFor('the gateway to log that it is shutting down', () => logEntries(gateway).some((e) => e.msg === 'shutting down'), 5000)

  const fresh = await tryRequest(gateway.url, '/healthz')
  t.ok('error' in fresh ? fresh.error === 'ECONNREFUSED' : fresh.status === 503,
    `a new connection after SIGTERM is refused or answered 503: ${JSON.stringify(fresh)}`)
  const onPooled = await pooled.request({ method: 'GET', path: '/readyz' })
    .then(async (r) => { await r.body.text(); return { status: r.statusCode } }, (error: Error) => ({ error: error.message }))
  t.ok('error' in onPooled || onPooled.status === 503, `a pooled connection is closed or answered 503: ${JSON.stringify(onPooled)}`)

  const answers = await Promise.all(inFlight)
  for (const [i, answer] of answers.entries()) {
    t.equal(answer.status, 200, `send ${i} answered 200`)
    t.match(answer.body, { queued: 2, unsent: 0, failed: 0, unknown: 0 }, `send ${i} was queued in full`)
    const messages = answer.body.messages as Array<{ id?: string }>
    t.ok(messages.length === 2 && messages.every((m) => typeof m.id === 'string' && m.id !== ''), `send ${i} carries its message ids`)
    // Without it the client keeps the connection, and the server's close waits for it until
    // SHUTDOWN_GRACE_MS runs out.
    t.equal(answer.connection, 'close', `send ${i}'s answer tells the client to close the connection`)
  }

  // A gateway that waited for the clients' idle keep-alive connections (72 s) would run out of
  // grace (10 s) and be stopped with exit code 1: the exit code says it, no stopwatch needed.
  const exit = await gateway.exited
  t.equal(exit.code, 0, `exit code 0: within SHUTDOWN_GRACE_MS, without waiting for idle keep-alive connections (exited ${exit.at - signalledAt} ms after SIGTERM)`)
  t.equal(exit.signal, null)
  t.equal(simulator.stats.sendRequests, SENDS, 'each send reached the provider exactly once')
  t.same(logEntries(gateway).filter((e) => e.level >= 50), [], 'nothing logged at error level')
  t.equal(gateway.stderr(), '', 'nothing on stderr')
})

t.test('SHUTDOWN_GRACE_MS bounds a send that hangs: the process is stopped with exit code 1', async (t) => {
  // close-with-grace races the close against `delay`; when the delay wins it logs
  // "killed by timeout (<delay>ms)" at error level and calls process.exit(1). The caller of the
  // hanging send gets no answer (its connection is cut): its messages may or may not have gone,
  // which is why SERWERSMS_TIMEOUT_MS should stay below SHUTDOWN_GRACE_MS (next test).
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'hang' } })
  const graceMs = 1500
  const gateway = await startGatewayProcess(t, simulator, { SHUTDOWN_GRACE_MS: String(graceMs), SERWERSMS_TIMEOUT_MS: '120000' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())

  const hanging = postSms(gateway, { to: '+48500600700', text: 'never answered' }, agent)
    .then((answer) => ({ answer }), (error: Error) => ({ error }))
  await waitFor('the send to hang at the provider', () => simulator.stats.inFlight === 1, 10_000)
  const signalledAt = Date.now()
  gateway.kill('SIGTERM')

  const exit = await gateway.exited
  // Exit 1 with this line is close-with-grace's timer having run out, which only it writes.
  t.equal(exit.code, 1, `close-with-grace exits 1 when the grace period runs out (${exit.at - signalledAt} ms after SIGTERM)`)
  t.ok(logEntries(gateway).some((e) => e.level >= 50 && /killed by timeout \(1500ms\)/.test(e.msg)), 'the forced exit is logged')
  t.ok(logEntries(gateway).some((e) => e.level === 40 && /SERWERSMS_TIMEOUT_MS is not below SHUTDOWN_GRACE_MS/.test(e.msg)), 'the start warned of this set-up')
  const outcome = await hanging
  t.ok('error' in outcome, `the hanging caller gets no answer, its connection is cut (${'error' in outcome ? outcome.error.message : outcome.answer.status})`)
})

t.test('SIGTERM while a client still sends a body it was answered for: its connection closes once idle, and the process exits 0 at once', async (t) => {
  const simulator = await startTestSimulator(t)
  const graceMs = 20_000
  const gateway = await startGatewayProcess(t, simulator, { SHUTDOWN_GRACE_MS: String(graceMs) })
  const socket = connect(gateway.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  let answer = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
  const bodyLength = 100_000
  // An unknown path is answered 404 before its body is read; the client goes on sending it.
  socket.write(`POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bodyLength}\r\n\r\n"${'x'.repeat(1000)}`)
  await waitFor('the early 404', () => answer.startsWith('HTTP/1.1 404'), 10_000)
  const signalledAt = Date.now()
  gateway.kill('SIGTERM')
  await waitFor('the gateway to start closing', () => logEntries(gateway).some((e) => e.msg === 'shutting down'), 10_000)
  // The rest of the body: the connection is now idle, and kept alive unless the closing server closes it.
  socket.write(`${'x'.repeat(bodyLength - 1002)}"`)
  const exit = await gateway.exited
  // Kept alive, the connection would hold the close for 72 s, past the 20-s grace period: exit 1.
  t.equal(exit.code, 0, `a clean exit, not the grace period running out (${exit.at - signalledAt} ms after SIGTERM; the grace period is ${graceMs} ms)`)
})

t.test('SIGTERM with connections that sent nothing, or half a request: closed once quiet, and the process exits 0 well inside the grace', async (t) => {
  const simulator = await startTestSimulator(t)
  const graceMs = 20_000
  const gateway = await startGatewayProcess(t, simulator, { SHUTDOWN_GRACE_MS: String(graceMs) })
  // A browser's preconnect, and a client that stopped half-way through its headers.
  const sockets = ['', 'POST /sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty'].map((text) => {
    const socket = connect(gateway.port, '127.0.0.1')
    socket.on('error', () => {})
    if (text !== '') socket.write(text)
    return socket
  })
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  await Promise.all(sockets.map(async (socket) => await once(socket, 'connect')))
  // Connected is not yet accepted: one still in the listen backlog at SIGTERM is refused with the
  // listener, never seen. A moment for the gateway to take them.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const signalledAt = Date.now()
  gateway.kill('SIGTERM')
  const exit = await gateway.exited
  // Node counts such a connection busy until the request timeout (30 s), past the grace: exit 1 after it.
  t.equal(exit.code, 0, `a clean exit (${exit.at - signalledAt} ms after SIGTERM; the grace period is ${graceMs} ms)`)
  const closedQuiet = logEntries(gateway).filter((e) => e.msg === 'connection closed at shutdown: no request in hand, and nothing came or went on it').length
  t.ok(closedQuiet >= 1 && closedQuiet <= 2, `closed, and said so (${closedQuiet} of 2; one still in the backlog at SIGTERM is never seen)`)
})

t.test('an upstream timeout shorter than the grace period: the hung send is answered 504 before a clean exit', async (t) => {
  const simulator = await startTestSimulator(t)
  simulator.setFault({ fault: { kind: 'hang' } })
  const gateway = await startGatewayProcess(t, simulator, { SHUTDOWN_GRACE_MS: '8000', SERWERSMS_TIMEOUT_MS: '1000' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())

  // A client without keep-alive, so that this test is about the upstream timeout alone.
  const hanging = postSms(gateway, { to: '+48500600700', text: 'answered by the timeout' }, agent, { keepAlive: false })
  await waitFor('the send to hang at the provider', () => simulator.stats.inFlight === 1, 10_000)
  gateway.kill('SIGTERM')
  const answer = await hanging
  t.equal(answer.status, 504)
  t.match(answer.body, { code: 'GW_UPSTREAM_TIMEOUT', unknown: 1 }, 'the caller learns the send may have gone')
  const exit = await gateway.exited
  t.equal(exit.code, 0)
  t.equal(simulator.stats.sendRequests, 1, 'not retried')
  t.notOk(logEntries(gateway).some((e) => /SHUTDOWN_GRACE_MS/.test(String(e.msg))), 'no warning for a timeout below the grace period')
})

const CONFIG_ERRORS: Array<{ name: string, env: Record<string, string | undefined>, names: RegExp }> = [
  { name: 'a port that is not a number', env: { PORT: 'abc' }, names: /PORT="abc" is invalid/ },
  { name: 'no API keys', env: { API_KEYS: undefined }, names: /API_KEYS is missing/ },
  { name: 'an API key too short', env: { API_KEYS: 'billing:short' }, names: /API_KEYS entry 1 / },
  { name: 'a provider URL that is not http(s)', env: { SERWERSMS_API_URL: 'ftp://example.com/' }, names: /SERWERSMS_API_URL="ftp:\/\/example.com\/" is invalid/ },
  { name: 'PUBLIC_URL without DLR_SECRET', env: { PUBLIC_URL: 'https://sms.example.com' }, names: /DLR_SECRET is missing/ },
  { name: 'a duration that is not one', env: { IDEMPOTENCY_TTL: 'forever' }, names: /IDEMPOTENCY_TTL="forever" is invalid/ },
  { name: 'no provider credentials', env: { SERWERSMS_TOKEN: undefined }, names: /SERWERSMS_TOKEN/ },
  { name: 'an ENV_FILE that is not there', env: { ENV_FILE: '/nonexistent/.env' }, names: /ENV_FILE="\/nonexistent\/\.env" is invalid: it cannot be read \(ENOENT\)/ }
]

t.test('a bad configuration exits 78 (EX_CONFIG) with a message naming the variable', async (t) => {
  // A few at a time: each start loads the whole app through tsx before it reads the config.
  for (let i = 0; i < CONFIG_ERRORS.length; i += 3) {
    await Promise.all(CONFIG_ERRORS.slice(i, i + 3).map(async ({ name, env, names }) => {
      const port = await freePort()
      const gateway = spawnGateway(t, { PORT: String(port), SERWERSMS_API_URL: 'http://127.0.0.1:9/', ...env })
      const exit = await gateway.exited
      t.equal(exit.code, EX_CONFIG, `${name}: exit code 78`)
      t.match(gateway.stderr(), /^sms-gateway cannot start:\n/, `${name}: says it cannot start`)
      t.match(gateway.stderr(), names, `${name}: names the variable`)
      t.match(gateway.stderr(), /Set /, `${name}: says how to fix it`)
      t.notMatch(gateway.stderr(), /\n\s+at /, `${name}: no stack trace`)
    }))
  }
})

// A secret that is merely too short is still a secret, and boot errors end up in log collectors.
t.test('a bad secret is named in the boot error, never echoed', async (t) => {
  const cases = [
    { name: 'DLR_SECRET', value: 'a-dlr-secret-that-is-too-short', env: { PUBLIC_URL: 'https://sms.example.com' } },
    { name: 'METRICS_TOKEN', value: 'short-token', env: {} }
  ]
  await Promise.all(cases.map(async ({ name, value, env }) => {
    const gateway = spawnGateway(t, { PORT: String(await freePort()), SERWERSMS_API_URL: 'http://127.0.0.1:9/', ...env, [name]: value })
    const exit = await gateway.exited
    t.equal(exit.code, EX_CONFIG, `${name}: exit code 78`)
    t.match(gateway.stderr(), new RegExp(`${name}\\b`), `${name} is named`)
    t.notOk(gateway.stderr().includes(value), `the value of ${name} is not printed: ${gateway.stderr().trim()}`)
  }))
})

/** A port on 127.0.0.1 another process listens on, for as long as the test runs. */
async function takenPort (t: Test): Promise<number> {
  const holder = createServer()
  holder.listen(0, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => { holder.close() })
  return (holder.address() as { port: number }).port
}

t.test('a start that fails for the configuration (a port, an address, a Redis database) exits 78 naming PORT, METRICS_PORT, HOST, METRICS_HOST or REDIS_URL, without a stack trace', async (t) => {
  const redis = await startRedis(t)
  const cases = [
    { name: 'PORT taken', env: { PORT: String(await takenPort(t)) }, names: /^PORT=\d+ cannot be listened on: another process already listens there \(HOST="127\.0\.0\.1"\)\. Stop that process, or set PORT to a free port\.$/m },
    { name: 'METRICS_PORT taken', env: { PORT: String(await freePort()), METRICS_PORT: String(await takenPort(t)) }, names: /^METRICS_PORT=\d+ cannot be listened on: .* set METRICS_PORT to a free port\.$/m },
    // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    { name: 'HOST not of this machine', env: { PORT: String(await freePort()), HOST: '192.0.2.1' }, names: /^HOST="192\.0\.2\.1" cannot be listened on: it is not an address of this machine \(EADDRNOTAVAIL\)\. Set HOST to/m },
    { name: 'METRICS_HOST not of this machine', env: { PORT: String(await freePort()), METRICS_PORT: String(await freePort()), METRICS_HOST: '192.0.2.1' }, names: /^METRICS_HOST="192\.0\.2\.1" cannot be listened on: it is not an address of this machine \(EADDRNOTAVAIL\)\. Set METRICS_HOST to/m },
    // Redis has databases 0–15: ioredis would go on in database 0.
    { name: 'REDIS_URL database refused', env: { PORT: String(await freePort()), REDIS_URL: `redis://127.0.0.1:${redis.port}/16` }, names: /^REDIS_URL names database 16, which Redis refused \(ERR DB index is out of range\); its keys would have gone to database 0\. Set REDIS_URL's database to one that Redis has/m }
  ]
  await Promise.all(cases.map(async ({ name, env, names }) => {
    const gateway = spawnGateway(t, { SERWERSMS_API_URL: 'http://127.0.0.1:9/', ...env })
    const exit = await gateway.exited
    t.equal(exit.code, EX_CONFIG, `${name}: exit code 78`)
    t.match(gateway.stderr(), /^sms-gateway cannot start:\n/, `${name}: says it cannot start`)
    t.match(gateway.stderr(), names, `${name}: names the variable and the fix`)
    t.notMatch(gateway.stderr(), /\n\s+at /, `${name}: no stack trace`)
  }))
})
