// docker-compose.yml: Debian's docker-compose accepts it (also with the
// replicas profile), and it wires gateway, simulator, Prometheus and Grafana
// the way deploy/ expects. No Docker engine is needed.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EnvironmentSchema, loadConfig, PROVIDER_MAX_RECIPIENTS, PUBLISHED_SECRETS } from '../../src/config.js'
import { longestCallMsFor } from '../../src/plugins/idempotency.js'
import { bodyLimitFor } from '../../src/server-options.js'
import { findTool, missingTool, readYaml, repoPath, run } from './helpers.js'

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
const SIMULATOR_ENV = new Set(['SIMULATOR_PORT', 'SIMULATOR_HOST', 'SIMULATOR_LATENCY_MS', 'SIMULATOR_DLR_DELAY_MS', 'SIMULATOR_DLR', 'SIMULATOR_TOKEN', 'LOG_LEVEL'])

const compose = readYaml<Compose>('docker-compose.yml')
const svc = (name: string): Service => {
  const s = compose.services[name]
  if (s === undefined) throw new Error(`no service ${name}`)
  return s
}

t.test('docker-compose config accepts the file', async (t) => {
  const bin = findTool('docker-compose')
  if (bin === undefined) {
    const m = missingTool('docker-compose', 'docker-compose')
    if (m.fail) t.fail(m.message)
    else t.ok(true, m.message, { skip: m.message })
    return
  }
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

t.test('gateway talks to the simulator with the shared token by default', async (t) => {
  const gw = svc('gateway').environment ?? {}
  const sim = svc('simulator').environment ?? {}
  t.equal(gw.SERWERSMS_API_URL, '${SERWERSMS_API_URL:-http://simulator:4010/}') // eslint-disable-line no-template-curly-in-string
  t.equal(sim.SIMULATOR_HOST, '0.0.0.0')
  const defaultOf = (v: string | null | undefined): string | undefined => /:-([^}]*)\}$/.exec(v ?? '')?.[1]
  t.ok(defaultOf(gw.SERWERSMS_TOKEN), 'gateway token has a default')
  t.equal(defaultOf(gw.SERWERSMS_TOKEN), defaultOf(sim.SIMULATOR_TOKEN), 'same default token on both sides')
  t.ok((defaultOf(gw.DLR_SECRET) ?? '').length >= 32, 'default DLR_SECRET is at least 32 characters')
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
  t.equal(svc('gateway').environment?.METRICS_PORT, '${METRICS_PORT:-9464}') // eslint-disable-line no-template-curly-in-string
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

t.test('the keys and secret this repository publishes are the ones the gateway refuses in front of SerwerSMS', async (t) => {
  const env = svc('gateway').environment ?? {}
  const defaultOf = (name: string) => /^\$\{\w+:-(.*)\}$/.exec(String(env[name]))?.[1]
  const composeKey = defaultOf('API_KEYS')?.split(':')[1]
  t.ok(composeKey !== undefined && PUBLISHED_SECRETS.has(composeKey), `docker-compose.yml's default key (${composeKey})`)
  t.ok(PUBLISHED_SECRETS.has(defaultOf('DLR_SECRET') ?? ''), 'its default DLR_SECRET')
  const quickstartKey = /export API_KEYS="demo:([^"]+)"/.exec(readFileSync(repoPath('scripts/quickstart.sh'), 'utf8'))?.[1]
  t.ok(quickstartKey !== undefined && PUBLISHED_SECRETS.has(quickstartKey), `the quickstart's demo key (${quickstartKey})`)
})
