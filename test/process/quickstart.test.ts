import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { freePort } from '../helper.js'
import { NO_CHILD_COVERAGE, waitFor } from '../servers.js'

/** `npm run quickstart` as a newcomer runs it: settings in the dotenv file, nothing else configured. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DEMO_KEY = 'demo-key-0123456789abcdef'
const BUILD_AND_START_MS = 60_000

/**
 * Runs the quickstart script on a port of its own with these dotenv lines; what it printed so far comes with it.
 * `env` adds to (or replaces) what it is started with.
 */
async function spawnQuickstart (dotenv: string, env: Record<string, string | undefined> = {}, host = '127.0.0.1'): Promise<{ child: ChildProcess, port: number, output: () => string }> {
  const port = await freePort()
  const envFile = join(mkdtempSync(join(tmpdir(), 'sms-gateway-quickstart-')), '.env')
  writeFileSync(envFile, `PORT=${port}\nHOST=${host}\n${dotenv}`)
  const child = spawn('bash', ['scripts/quickstart.sh'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE, ENV_FILE: envFile, SIMULATOR_DLR_DELAY_MS: '50', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return { child, port, output: () => output }
}

/** Starts `npm run quickstart` with these dotenv lines; answers its URL and what it printed so far. */
async function startQuickstart (t: Test, dotenv: string, host = '127.0.0.1'): Promise<{ url: string, output: () => string }> {
  const { child, port, output } = await spawnQuickstart(dotenv, {}, host)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  await waitFor(`the quickstart gateway on ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`quickstart exited ${child.exitCode}: ${output()}`)
    return (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true
  }, BUILD_AND_START_MS)
  return { url, output }
}

/** How a quickstart that should stop before starting the gateway exits; one that starts it instead runs until killed. */
async function exitCodeOf (child: ChildProcess): Promise<number | null> {
  const killed = setTimeout(() => child.kill('SIGKILL'), BUILD_AND_START_MS)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(killed)
  return code
}

/**
 * A PATH whose npm skips `npm ci` and the build when dist/ is there (as the subtests before built it),
 * for a quickstart that should stop before it starts the gateway; without dist/ it runs the real npm.
 */
function pathWithStandInNpm (): string {
  const realNpm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim()
  const bin = join(mkdtempSync(join(tmpdir(), 'sms-gateway-quickstart-npm-')), 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\n[ -f dist/config.js ] && exit 0\nexec '${realNpm}' "$@"\n`)
  chmodSync(join(bin, 'npm'), 0o755)
  return `${bin}:${process.env.PATH ?? ''}`
}

const send = async (url: string, key: string) => await fetch(`${url}/sms`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ to: '+48500600700', text: 'Hello' })
})

t.test('a PORT from the dotenv file: delivery reports come back to the port the gateway listens on', async (t) => {
  const { url, output } = await startQuickstart(t, '')
  t.match(output(), `gateway on http://localhost:${new URL(url).port}`, 'the banner names the port in use')
  t.match(output(), `Bearer ${DEMO_KEY}`, 'and the demo key it created')

  t.equal((await send(url, DEMO_KEY)).status, 200)
  await waitFor('the simulator\'s delivery report to be counted', async () => {
    const metrics = await (await fetch(`${url}/metrics`)).text()
    return /^sms_gateway_delivery_reports_total\{[^}]*\} [1-9]/m.test(metrics)
  }, 10_000)
})

t.test('a HOST of one address other than 127.0.0.1: delivery reports come back to that address', async (t) => {
  const { url } = await startQuickstart(t, '', '::1')
  t.equal((await send(url, DEMO_KEY)).status, 200)
  await waitFor('the simulator\'s delivery report to be counted', async () => {
    const metrics = await (await fetch(`${url}/metrics`)).text()
    return /^sms_gateway_delivery_reports_total\{[^}]*\} [1-9]/m.test(metrics)
  }, 10_000)
})

t.test('AUTH_DISABLED=false is no key configured: the demo client is created', async (t) => {
  const { url } = await startQuickstart(t, 'AUTH_DISABLED=false\n')
  t.equal((await send(url, DEMO_KEY)).status, 200)
})

t.test('with a SerwerSMS account and no API_KEYS, no published demo key: it stops and names API_KEYS', async (t) => {
  const { child, output } = await spawnQuickstart('SERWERSMS_TOKEN=a-real-account-token\n')
  t.equal(await exitCodeOf(child), 78, output())
  t.match(output(), /a SerwerSMS account is configured but no API_KEYS.*Set API_KEYS=name:key/)
  t.notMatch(output(), DEMO_KEY)
})

t.test('SERWERSMS_SIMULATOR=false and no account: it stops, and names what is missing rather than an account it does not have', async (t) => {
  const { child, output } = await spawnQuickstart('SERWERSMS_SIMULATOR=false\n')
  t.equal(await exitCodeOf(child), 78, output())
  t.match(output(), /SERWERSMS_SIMULATOR is set and not true, but no SerwerSMS account is configured.*Set SERWERSMS_TOKEN .* or remove SERWERSMS_SIMULATOR/)
  t.notMatch(output(), /a SerwerSMS account is configured/)
})

t.test('the simulator\'s settings in the dotenv file are the gateway\'s to read, not replaced by the script\'s own', async (t) => {
  // An invalid value, so that what reads it shows: the gateway refuses it by name (exit 78).
  const { child, output } = await spawnQuickstart('SIMULATOR_DLR_DELAY_MS=soon\n', { SIMULATOR_DLR_DELAY_MS: undefined })
  t.equal(await exitCodeOf(child), 78, output())
  t.match(output(), /SIMULATOR_DLR_DELAY_MS/)
})

t.test('with API_KEYS of its own, the banner shows no demo key, and the demo key is refused', async (t) => {
  const { url, output } = await startQuickstart(t, 'API_KEYS=mine:my-own-key-0123456789abcdef\n')
  t.notMatch(output(), DEMO_KEY)
  t.match(output(), 'Bearer <one of your API_KEYS>')
  t.equal((await send(url, DEMO_KEY)).status, 401)
  t.equal((await send(url, 'my-own-key-0123456789abcdef')).status, 200)
})

t.test('an ENV_FILE that cannot be read: it stops with exit 78 and the gateway\'s message, no stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-gateway-quickstart-'))
  const cases = [[join(dir, 'missing.env'), 'ENOENT'], [dir, 'EISDIR']] as const
  for (const [envFile, reason] of cases) {
    const { child, output } = await spawnQuickstart('', { ENV_FILE: envFile, PATH: pathWithStandInNpm() })
    t.equal(await exitCodeOf(child), 78, output())
    t.equal(output(), `sms-gateway cannot start:\nENV_FILE=${JSON.stringify(envFile)} is invalid: it cannot be read (${reason}). Set it to a dotenv file this user can read, or to /dev/null to read none.\n`, `ENV_FILE=${envFile} (${reason})`)
  }
})
