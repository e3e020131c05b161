// docker-compose.yml: Debian's docker-compose accepts it (also with the
// replicas profile), and it wires gateway, simulator, Prometheus and Grafana
// the way deploy/ expects. No Docker engine is needed.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { COMPOSE_SIMULATOR_USERNAME, EnvironmentSchema, loadConfig, loadSimulatorConfig, PROVIDER_MAX_RECIPIENTS, PUBLISHED_SECRETS, type UpstreamAuth } from '../../src/config.js'
import { longestCallMsFor } from '../../src/plugins/idempotency.js'
import { bodyLimitFor } from '../../src/server-options.js'
import { processSendSms } from '../../src/simulator/send-sms.js'
import { readYaml, repoPath, run, toolFor } from './helpers.js'

interface Service {
  image?: string
  build?: { context: string }
  command?: string[]
  entrypoint?: string[]
  init?: boolean
  profiles?: string[]
  environment?: Record<string, string | null>
  ports?: string[]
  volumes?: string[]
  healthcheck?: { test: string[] }
  depends_on?: Record<string, { condition: string }> | string[]
  networks?: { default?: { aliases?: string[] } }
}
interface Compose { services: Record<string, Service>, volumes?: Record<string, unknown> }

// Variables the gateway reads, from the schema it validates them with (src/config.ts), so a new
// variable cannot be left out of compose unnoticed. ENV_FILE and the built-in simulator's
// SIMULATOR_* are not needed in compose.
const GATEWAY_ENV = new Set(Object.keys(EnvironmentSchema.properties).filter((name) => name !== 'ENV_FILE' && !name.startsWith('SIMULATOR_')))
const SIMULATOR_ENV = new Set(['SIMULATOR_PORT', 'SIMULATOR_HOST', 'SIMULATOR_LATENCY_MS', 'SIMULATOR_DLR_DELAY_MS', 'SIMULATOR_DLR', 'SIMULATOR_TOKEN', 'SIMULATOR_USERNAME', 'SIMULATOR_PASSWORD', 'SERWERSMS_TIME_ZONE', 'LOG_LEVEL'])

const compose = readYaml<Compose>('docker-compose.yml')
const svc = (name: string): Service => {
  const s = compose.services[name]
  if (s === undefined) throw new Error(`no service ${name}`)
  return s
}

t.test('docker-compose config accepts the file', async (t) => {
  const bin = toolFor(t, 'docker-compose', 'docker-compose')
  if (bin === undefined) return
  // Independent of a developer's .env and COMPOSE_* settings: an empty env file.
  const dir = mkdtempSync(join(tmpdir(), 'compose-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const envFile = join(dir, 'empty.env')
  writeFileSync(envFile, '')
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COMPOSE_')))
  for (const args of [[], ['--profile', 'replicas']]) {
    const r = run(bin, ['--env-file', envFile, ...args, 'config', '-q'], { env })
    t.equal(r.status, 0, `docker-compose ${args.join(' ')} config -q`, { output: r.output })
    t.equal(r.stderr.trim(), '', 'no warnings', { output: r.output })
  }
  const r = run(bin, ['--env-file', envFile, '--profile', 'replicas', 'config', '--services'], { env })
  t.same(r.stdout.trim().split('\n').sort(), ['gateway', 'gateway-2', 'grafana', 'lb', 'prometheus', 'redis', 'simulator'])
  // (docker-compose 1.29 lists profile services with or without --profile; the
  // profiles themselves are checked below.)
})

t.test('gateway and simulator run the same image', async (t) => {
  const gw = svc('gateway')
  const sim = svc('simulator')
  t.equal(gw.image, sim.image)
  t.equal(gw.build?.context, '.')
  t.equal(sim.build?.context, '.', 'simulator can be built too (never pulled)')
  t.same(sim.command, ['node', 'dist/cli/simulator.js'])
  t.equal(gw.command, undefined, 'gateway uses the image CMD')
  t.equal(gw.init, true, 'gateway runs under an init')
  t.equal(sim.init, true, 'simulator runs under an init')
  t.ok(sim.healthcheck, 'simulator has its own healthcheck (the image one probes the gateway)')
  t.same(gw.depends_on, { simulator: { condition: 'service_healthy' } })
})

t.test('gateway talks to the simulator with the shared API user by default', async (t) => {
  const gw = svc('gateway').environment ?? {}
  const sim = svc('simulator').environment ?? {}
  t.equal(gw.SERWERSMS_API_URL, '${SERWERSMS_API_URL:-http://simulator:4010/}') // eslint-disable-line no-template-curly-in-string
  t.equal(sim.SIMULATOR_HOST, '0.0.0.0')
  const defaultOf = (v: string | null | undefined): string | undefined => /:?-([^}]*)\}$/.exec(v ?? '')?.[1]
  // A token wins over a user and password (src/config.ts): a default token would be sent to SerwerSMS in place of the operator's own user.
  t.equal(gw.SERWERSMS_TOKEN, null, 'no default token: passed on only when set')
  t.ok(defaultOf(gw.SERWERSMS_USERNAME), 'gateway user has a default')
  t.equal(defaultOf(gw.SERWERSMS_USERNAME), defaultOf(sim.SIMULATOR_USERNAME), 'same default user on both sides')
  t.equal(defaultOf(gw.SERWERSMS_PASSWORD), defaultOf(sim.SIMULATOR_PASSWORD), 'same default password on both sides')
  t.ok(PUBLISHED_SECRETS.has(defaultOf(gw.SERWERSMS_PASSWORD) ?? ''), 'the default password is one the gateway refuses in front of SerwerSMS')
  t.ok((defaultOf(gw.DLR_SECRET) ?? '').length >= 32, 'default DLR_SECRET is at least 32 characters')
})

/** The environment docker-compose gives each service with these lines in its env file (nothing from the shell's). */
function renderEnvironments (bin: string, dir: string, lines: string[]): Record<string, Record<string, string | undefined>> {
  const envFile = join(dir, 'rendered.env')
  writeFileSync(envFile, lines.join('\n'))
  const env = { PATH: process.env.PATH }
  const r = run(bin, ['--env-file', envFile, 'config'], { env })
  if (r.status !== 0) throw new Error(`docker-compose config: ${r.output}`)
  const rendered = parse(r.stdout) as Compose
  return Object.fromEntries(Object.entries(rendered.services).map(([name, service]) => [name,
    Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v ?? undefined]))]))
}

/** Whether the compose simulator, configured from this environment as its CLI configures itself, takes a send with these credentials. */
function simulatorAccepts (simulatorEnv: Record<string, string | undefined>, auth: UpstreamAuth | undefined): boolean {
  const { token, username, password } = loadSimulatorConfig(simulatorEnv)
  const outcome = processSendSms({ phone: '500600700', text: 'hi', ...(auth?.kind === 'user' ? { username: auth.username, password: auth.password } : {}) }, {
    authorization: auth?.kind === 'token' ? `Bearer ${auth.token}` : undefined,
    credentials: token === undefined && username === undefined ? undefined : { token, username, password },
    maxParts: 10,
    now: Date.now()
  })
  return outcome.accepted
}

t.test('what compose gives the gateway: the simulator by default, only the operator\'s credentials in front of SerwerSMS', async (t) => {
  const bin = toolFor(t, 'docker-compose', 'docker-compose')
  if (bin === undefined) return
  const dir = mkdtempSync(join(tmpdir(), 'compose-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const defaults = renderEnvironments(bin, dir, [])
  const gateway = loadConfig(defaults.gateway)
  const simulator = loadSimulatorConfig(defaults.simulator)
  t.same(gateway.upstream.auth, { kind: 'user', username: simulator.username, password: simulator.password }, 'out of the box, the simulator\'s only user')
  t.ok(simulatorAccepts(defaults.simulator!, gateway.upstream.auth), 'which the simulator takes')

  // A token in .env, the API URL left to the compose simulator: it wins over the simulator's user, so the simulator needs it too.
  const tokenOnly = renderEnvironments(bin, dir, ['SERWERSMS_TOKEN=own-token'])
  t.same(loadConfig(tokenOnly.gateway).upstream.auth, { kind: 'token', token: 'own-token' })
  t.notOk(simulatorAccepts(tokenOnly.simulator!, loadConfig(tokenOnly.gateway).upstream.auth), 'the simulator refuses a token it was not given: every send 502')
  const tokenBoth = renderEnvironments(bin, dir, ['SERWERSMS_TOKEN=own-token', 'SIMULATOR_TOKEN=own-token'])
  t.ok(simulatorAccepts(tokenBoth.simulator!, loadConfig(tokenBoth.gateway).upstream.auth), 'given as SIMULATOR_TOKEN too (deploy/README.md), it takes it')

  const real = ['SERWERSMS_API_URL=https://api2.serwersms.pl/', 'API_KEYS=shop:shop-key-0123456789abcdef', 'DLR_SECRET=real-dlr-secret-0123456789abcdef0123456789', 'PUBLIC_URL=https://sms.example.com']
  const withUser = renderEnvironments(bin, dir, [...real, 'SERWERSMS_USERNAME=shop-api', 'SERWERSMS_PASSWORD=real-password'])
  t.same(loadConfig(withUser.gateway).upstream.auth, { kind: 'user', username: 'shop-api', password: 'real-password' }, 'a user set in .env is the one sent to SerwerSMS, with no token to win over it')
  const withToken = renderEnvironments(bin, dir, [...real, 'SERWERSMS_TOKEN=real-token'])
  t.same(loadConfig(withToken.gateway).upstream.auth, { kind: 'token', token: 'real-token' })
  const forgotten = renderEnvironments(bin, dir, [...real, 'SERWERSMS_USERNAME=shop-api'])
  t.throws(() => loadConfig(forgotten.gateway), { name: 'ConfigError', message: /^SERWERSMS_PASSWORD is the simulator's password/ }, 'a forgotten password: the simulator\'s default is refused at boot, not sent')
  const nothing = renderEnvironments(bin, dir, ['SERWERSMS_API_URL=https://api2.serwersms.pl/'])
  t.throws(() => loadConfig(nothing.gateway), { name: 'ConfigError' }, 'only the provider URL set: the defaults are refused at boot')
  const noPublicUrl = renderEnvironments(bin, dir, [...real.filter((line) => !line.startsWith('PUBLIC_URL=')), 'SERWERSMS_TOKEN=real-token'])
  t.throws(() => loadConfig(noPublicUrl.gateway), { name: 'ConfigError', message: /^PUBLIC_URL="http:\/\/gateway:3000" is invalid.*or set it empty \(PUBLIC_URL=, and DLR_SECRET= unless the SerwerSMS panel holds a report URL from npm run dlr-url\) to send without delivery reports\.$/ }, 'PUBLIC_URL forgotten: the default, which SerwerSMS cannot reach, is refused')
  // No inbound route: PUBLIC_URL= in .env must reach the gateway empty, not as compose's default.
  const emptyPublicUrl = renderEnvironments(bin, dir, [...real.filter((line) => !line.startsWith('PUBLIC_URL=')), 'PUBLIC_URL=', 'SERWERSMS_TOKEN=real-token'])
  t.equal(emptyPublicUrl.gateway!.PUBLIC_URL, '', 'an empty PUBLIC_URL is passed on empty')
  t.equal(loadConfig(emptyPublicUrl.gateway).deliveryReports.publicUrl, undefined, 'and the gateway sends to SerwerSMS without delivery reports')
  // No reports at all: DLR_SECRET= too. Else compose's published secret is refused, and one of the operator's own makes the gateway expect reports (its alert fires when none come).
  const noReports = [...real.filter((line) => !/^(PUBLIC_URL|DLR_SECRET)=/.test(line)), 'PUBLIC_URL=', 'SERWERSMS_TOKEN=real-token']
  t.throws(() => loadConfig(renderEnvironments(bin, dir, noReports).gateway), { name: 'ConfigError', message: /^DLR_SECRET is the one docker-compose\.yml publishes.*, or set it empty \(DLR_SECRET=\) too, as PUBLIC_URL is, to take no delivery reports\.$/ }, 'DLR_SECRET left out: compose\'s published one, refused, and the message says how to take none')
  const emptyDlrSecret = renderEnvironments(bin, dir, [...noReports, 'DLR_SECRET='])
  t.equal(emptyDlrSecret.gateway!.DLR_SECRET, '', 'an empty DLR_SECRET is passed on empty, not as compose\'s default')
  t.same(loadConfig(emptyDlrSecret.gateway).deliveryReports, { ...loadConfig(emptyDlrSecret.gateway).deliveryReports, publicUrl: undefined, secret: undefined }, 'and the gateway takes no reports: sms_gateway_delivery_reports_enabled 0')
  const passwordOnly = renderEnvironments(bin, dir, [...real, 'SERWERSMS_PASSWORD=real-password'])
  t.throws(() => loadConfig(passwordOnly.gateway), { name: 'ConfigError', message: /^SERWERSMS_USERNAME="compose-simulator" is the simulator's API user/ }, 'only a password set: compose\'s user is refused at boot, not sent')
})

t.test('only known variables are set', async (t) => {
  for (const name of ['gateway', 'gateway-2']) {
    for (const k of Object.keys(svc(name).environment ?? {})) t.ok(GATEWAY_ENV.has(k), `${name}: ${k} is a gateway variable`)
  }
  for (const k of Object.keys(svc('simulator').environment ?? {})) t.ok(SIMULATOR_ENV.has(k), `simulator: ${k} is a simulator variable`)
  // Every gateway variable can be given in .env.
  for (const k of GATEWAY_ENV) t.ok(k in (svc('gateway').environment ?? {}), `gateway passes ${k} on`)
})

t.test('Prometheus and Grafana get the project config', async (t) => {
  const prom = svc('prometheus')
  t.ok(prom.volumes?.includes('./deploy/prometheus:/etc/prometheus:ro'))
  t.ok(prom.command?.includes('--config.file=/etc/prometheus/prometheus.yml'))
  const graf = svc('grafana')
  t.ok(graf.volumes?.some((v) => v.startsWith('./deploy/grafana/provisioning:')))
  for (const s of Object.values(compose.services)) {
    for (const v of s.volumes ?? []) {
      const src = v.split(':')[0] ?? ''
      if (src.startsWith('./')) t.ok(existsSync(repoPath(src)), `${src} exists`)
    }
  }
  // Prometheus scrapes every replica through this alias (deploy/prometheus/prometheus.yml).
  t.same(svc('gateway').networks?.default?.aliases, ['sms-gateway'])
  t.same(svc('gateway-2').networks?.default?.aliases, ['sms-gateway'])
  t.equal(svc('gateway').environment?.METRICS_PORT, '9464', 'fixed: prometheus.yml scrapes 9464, so .env must not move it')
})

t.test('replicas profile: a second gateway sharing Redis', async (t) => {
  const gw2 = svc('gateway-2')
  t.same(gw2.profiles, ['replicas'])
  t.same(svc('redis').profiles, ['replicas'])
  t.equal(gw2.environment?.REDIS_URL, '${REDIS_URL:-}') // eslint-disable-line no-template-curly-in-string
  t.equal(svc('gateway').environment?.REDIS_URL, null, 'the first gateway takes REDIS_URL only when it is set')
  // gateway-2's entrypoint as the container runs it: compose turns $$ into $.
  const [shell, flag, script] = (gw2.entrypoint ?? []).map((arg) => arg.replaceAll('$$', '$'))
  t.same([shell, flag], ['sh', '-c'])
  t.match(script, /exec node dist\/server\.js$/, 'node replaces the shell as PID 1, as in the image')
  const unset = run('sh', ['-c', script!], { env: { PATH: process.env.PATH, REDIS_URL: '' } })
  t.equal(unset.status, 78, 'without REDIS_URL the second replica refuses to start: two memory stores behind one balancer would split idempotency keys')
  t.match(unset.stderr, /set REDIS_URL=redis:\/\/redis:6379/)
  const set = run('sh', ['-c', script!.replace('exec node dist/server.js', 'echo started')], { env: { PATH: process.env.PATH, REDIS_URL: 'redis://redis:6379' } })
  t.equal(set.stdout.trim(), 'started', 'with it, it starts')
  t.equal(gw2.image, svc('gateway').image)
  t.equal(gw2.ports, undefined, 'second replica is reached through the balancer')
  t.same(svc('lb').profiles, ['replicas'])
  const redisArgs = svc('redis').command ?? []
  const policy = redisArgs[redisArgs.indexOf('--maxmemory-policy') + 1]
  t.equal(policy, 'noeviction', 'a full Redis refuses writes (keyed sends fail closed) instead of evicting idempotency claims and answers, which would let a retry send again')
  // With `everysec`, Redis answers a write it may still hold back from the file for up to 2 s
  // while an earlier fsync runs; a crash then loses a claim the gateway already acted on
  // (test/redis/restart.test.ts catches it under disk load: 4 runs in 6 sent twice).
  t.equal(redisArgs[redisArgs.indexOf('--appendonly') + 1], 'yes')
  t.equal(redisArgs[redisArgs.indexOf('--appendfsync') + 1], 'always', 'a claim is on disk before the gateway calls the provider')
  for (const name of ['gateway', 'simulator', 'prometheus', 'grafana']) t.equal(svc(name).profiles, undefined, `${name} is always on`)
})

t.test('the replicas balancer lets the longest call and the largest body through to the gateway', async (t) => {
  const conf = readFileSync(repoPath('deploy/nginx/replicas.conf'), 'utf8')
  const readTimeoutS = Number(/^\s*proxy_read_timeout (\d+)s;/m.exec(conf)?.[1])
  const bodyMiB = Number(/^\s*client_max_body_size (\d+)m;/m.exec(conf)?.[1])
  const longestCallMs = longestCallMsFor(loadConfig({ SERWERSMS_TOKEN: 'tok', API_KEYS: 'app:0123456789abcdef' }))
  t.ok(readTimeoutS * 1000 > longestCallMs, `proxy_read_timeout ${readTimeoutS} s outlasts a call of every batch timing out with the defaults (${longestCallMs / 1000} s): else the caller gets nginx's HTML 504 and no recipient's fate`)
  const largest = loadConfig({ SERWERSMS_TOKEN: 'tok', API_KEYS: 'app:0123456789abcdef', SMS_MAX_RECIPIENTS: String(PROVIDER_MAX_RECIPIENTS) })
  t.ok(bodyMiB * 1024 * 1024 > bodyLimitFor(largest), `client_max_body_size ${bodyMiB} MiB is above the gateway's body limit at ${PROVIDER_MAX_RECIPIENTS} recipients (${bodyLimitFor(largest)} bytes): the gateway, not nginx, refuses a body too large`)
})

t.test('the replicas balancer keeps /dlr\'s signed query out of its logs', async (t) => {
  const conf = readFileSync(repoPath('deploy/nginx/replicas.conf'), 'utf8').replace(/#.*$/gm, '')
  const formats = new Map([...conf.matchAll(/\blog_format\s+(\S+)((?:\s+(?:'[^']*'|"[^"]*"))+)\s*;/g)].map((m) => [m[1]!, m[2]!]))
  const logs = [...conf.matchAll(/\baccess_log\s+([^;]*);/g)].map((m) => m[1]!.trim().split(/\s+/))
  t.ok(logs.length > 0, 'an access_log of its own: else the image\'s, whose "main" format logs $request')
  for (const [path, format] of logs) {
    if (path === 'off') continue
    // Without a format nginx uses "combined", which logs $request too.
    t.ok(format !== undefined && formats.has(format), `access_log ${path} uses a format defined here (${format})`)
    t.notMatch(formats.get(format ?? '') ?? '$request', /\$(?:request|request_uri|args|query_string|is_args)\b|\$arg_/, `format ${format} logs no query: not $request, $request_uri, $args, $query_string, $is_args or $arg_*`)
  }
  // nginx's error line about a failed upstream request quotes the request line, query included.
  const dlr = /\blocation\s+=\s+\/dlr\s*\{([^}]*)\}/.exec(conf)?.[1] ?? ''
  t.match(dlr, /\bproxy_pass\s/, '/dlr has a location of its own')
  t.match(dlr, /\berror_log\s+\S+\s+(?:crit|alert|emerg)\s*;/, 'where only critical errors are logged, not a failed request\'s line')
})

t.test('the keys and secret this repository publishes are the ones the gateway refuses in front of SerwerSMS', async (t) => {
  const env = svc('gateway').environment ?? {}
  const defaultOf = (name: string) => /^\$\{\w+:?-(.*)\}$/.exec(String(env[name]))?.[1]
  const composeKey = defaultOf('API_KEYS')?.split(':')[1]
  t.ok(composeKey !== undefined && PUBLISHED_SECRETS.has(composeKey), `docker-compose.yml's default key (${composeKey})`)
  t.ok(PUBLISHED_SECRETS.has(defaultOf('DLR_SECRET') ?? ''), 'its default DLR_SECRET')
  t.equal(defaultOf('SERWERSMS_USERNAME'), COMPOSE_SIMULATOR_USERNAME, 'its default API user')
  const quickstartKey = /export API_KEYS="demo:([^"]+)"/.exec(readFileSync(repoPath('scripts/quickstart.sh'), 'utf8'))?.[1]
  t.ok(quickstartKey !== undefined && PUBLISHED_SECRETS.has(quickstartKey), `the quickstart's demo key (${quickstartKey})`)
})
