import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import packageJson from '../../package.json' with { type: 'json' }
import { buildDist, ENTRY_POINTS, EXTERNAL_PACKAGES, GATEWAY_ENTRY } from '../../scripts/build.js'
import { BUNDLE_FILE, CODE_CACHE_FILE } from '../../src/code-cache.js'
import { authHeader, freePort, testEnvironment } from '../helper.js'
import { NO_CHILD_COVERAGE, NODE_WITHOUT_TAP_HOOKS, spawnGateway, startRedis, waitFor } from '../servers.js'

/**
 * The production build (`npm run build`) is a bundle: this runs what it produces, as the Docker
 * image and `npm start` do, so a package that cannot live in a bundle or a chunk that fails to
 * load shows here rather than in production.
 */

const run = promisify(execFile)
// Inside the project, so the external packages resolve from node_modules as they do from dist/.
const OUT_DIR = `test-output/build-${process.pid}`

t.before(async () => { await buildDist({ outDir: OUT_DIR }) })
t.teardown(() => rm(OUT_DIR, { recursive: true, force: true }))

const isScript = (file: string) => /\.c?js$/.test(file)

t.test('every entry point is built, and the external packages are left to node_modules', async (t) => {
  const files = await readdir(OUT_DIR, { recursive: true })
  for (const entry of ENTRY_POINTS) t.ok(files.includes(`${entry.out}.js`), `${entry.in} → ${entry.out}.js`)
  t.ok(files.includes(BUNDLE_FILE), `${GATEWAY_ENTRY} → ${BUNDLE_FILE}`)
  t.ok(files.includes(CODE_CACHE_FILE), 'with its code cache')
  const chunks = await Promise.all(files.filter(isScript).map(async (f) => readFile(join(OUT_DIR, f), 'utf8')))
  for (const name of EXTERNAL_PACKAGES) {
    // An import or require() of the package by name: bundled, it would be inlined instead.
    const loadedByName = new RegExp(`(?:from|require\\()\\s*"${name}"`)
    t.ok(chunks.some((text) => loadedByName.test(text)), `${name} is loaded from node_modules at run time, not bundled`)
  }
})

t.test('the gateway\'s bundle has no import(): run through vm.Script, it would fail there', async (t) => {
  // vm.Script is given no loader for dynamic imports (src/code-cache.ts); esbuild inlines those of bundled modules.
  const text = await readFile(join(OUT_DIR, BUNDLE_FILE), 'utf8')
  const at = /\bimport\s*\(/.exec(text)
  t.equal(at, null, at === null ? 'none' : JSON.stringify(text.slice(Math.max(0, at.index - 60), at.index + 40)))
})

t.test('the bundle is ASCII, so V8 keeps its source at one byte a character (one character beyond Latin-1 doubles it)', async (t) => {
  const files = (await readdir(OUT_DIR, { recursive: true })).filter(isScript)
  for (const file of files) {
    const text = await readFile(join(OUT_DIR, file), 'utf8')
    const wide = /[\u0080-\uffff]/.exec(text)
    t.equal(wide, null, `${file}${wide === null ? '' : `: ${JSON.stringify(text.slice(Math.max(0, wide.index - 40), wide.index + 10))}`}`)
  }
})

t.test('the built gateway: docs with their static files, a keyed send through Redis, a replay', async (t) => {
  const redis = await startRedis(t)
  const gateway = await spawnGateway(t, { SERWERSMS_SIMULATOR: 'true', SERWERSMS_TOKEN: undefined, REDIS_URL: redis.url, NODE_DEBUG: 'sms-gateway' }, [join(OUT_DIR, 'server.js')], NODE_WITHOUT_TAP_HOOKS)
  t.match(await (await fetch(`${gateway.url}/readyz`)).json(), { status: 'ready', idempotencyStore: 'redis' })
  t.match(gateway.output(), /SMS-GATEWAY \d+: code cache accepted/, 'V8 took the code cache the build wrote')

  const send = async () => fetch(`${gateway.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'build-1', ...authHeader() },
    body: JSON.stringify({ to: ['+48500600700', '45616'], text: 'Hello' })
  })
  const first = await send()
  t.equal(first.status, 200)
  t.match(await first.json(), { queued: 1, unsent: 1 })
  const second = await send()
  t.equal(second.headers.get('idempotent-replayed'), 'true', 'the Redis chunk is loaded and works')

  const ui = await fetch(`${gateway.url}/docs/static/swagger-ui-bundle.js`)
  t.equal(ui.status, 200, 'swagger-ui finds its static files')
  t.ok((await ui.text()).length > 100_000)
  const document = await (await fetch(`${gateway.url}/docs/json`)).json() as { info: { version: string } }
  t.equal(document.info.version, packageJson.version)

  await waitFor('the request log', async () => gateway.output().includes('"route":"/sms"'))
  t.notMatch(gateway.output(), /Error|warning/i, 'no errors or warnings on the way')
})

t.test('the built command-line programs', async (t) => {
  const env = { PATH: process.env.PATH, ...NO_CHILD_COVERAGE, ...testEnvironment({ PUBLIC_URL: 'https://sms.example.com', DLR_SECRET: 's'.repeat(32) }) }
  const { stdout } = await run(process.execPath, [join(OUT_DIR, 'cli/dlr-url.js')], { env })
  t.match(stdout, /^https:\/\/sms\.example\.com\/dlr\?.*sig=/)

  const port = await freePort()
  const simulator = spawn(process.execPath, [join(OUT_DIR, 'cli/simulator.js')], {
    env: { ...env, SIMULATOR_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore'
  })
  t.teardown(async () => {
    if (simulator.exitCode !== null) return
    simulator.kill('SIGTERM')
    await once(simulator, 'exit')
  })
  await waitFor('the simulator', async () => (await fetch(`http://127.0.0.1:${port}/__simulator/stats`).catch(() => undefined))?.ok === true)
  simulator.kill('SIGTERM')
  const [code] = await once(simulator, 'exit') as [number | null]
  t.equal(code, 0, 'stops cleanly on SIGTERM')
})

t.test('a damaged code cache is left aside: the built gateway compiles without it, says why, and serves', async (t) => {
  const cachePath = join(OUT_DIR, CODE_CACHE_FILE)
  const written = await readFile(cachePath)
  t.teardown(() => writeFile(cachePath, written))
  const damaged = Buffer.from(written)
  // Past the two digests at its head, in the V8 code cache itself, which V8 would run as it is.
  damaged[Math.floor(damaged.length / 2)]! ^= 0x55
  await writeFile(cachePath, damaged)
  const gateway = await spawnGateway(t, { NODE_DEBUG: 'sms-gateway' }, [join(OUT_DIR, 'server.js')], NODE_WITHOUT_TAP_HOOKS)
  t.match(gateway.output(), /SMS-GATEWAY \d+: code cache damaged: .*checksum/, 'the debug line says why the cache was not used')
  t.equal((await fetch(`${gateway.url}/healthz`)).status, 200)
})
