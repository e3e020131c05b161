import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort, testEnvironment } from './helper.js'

const POLL_MS = 50

/**
 * Polls until `condition` holds, or throws after `timeoutMs`. An error the condition throws ends
 * the wait at once (a server that exited will not come up); conditions that probe a socket catch
 * their own connection errors.
 */
export async function waitFor (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/**
 * A directory for a Redis that keeps its data over a restart, on tmpfs where there is one: the
 * tests kill Redis (a SIGKILL loses only what it never wrote, and what it wrote is in the page
 * cache), and a busy disk's fsync could outlast the gateway's 1-s Redis command timeout.
 */
export function redisDataDir (t: Test): string {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sms-gateway-redis-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

export interface RedisUnderTest { url: string, port: number, process: ChildProcess, stop: () => Promise<void> }

/**
 * A real, throw-away redis-server on a loopback port (Debian's redis-server must be installed).
 * `args`: its settings beyond port and address; by default it keeps nothing on disk.
 */
export async function startRedis (t: Test, port?: number, args: readonly string[] = ['--save', '', '--appendonly', 'no']): Promise<RedisUnderTest> {
  port ??= await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: 'ignore' })
  const failed = once(child, 'error')
  failed.catch(() => {})
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await once(child, 'exit')
  }
  t.teardown(stop)
  await Promise.race([
    waitFor('redis-server', async () => {
      const { Redis } = await import('ioredis')
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => {})
      try {
        await probe.connect()
        return await probe.ping() === 'PONG'
      } catch {
        return false
      } finally {
        probe.disconnect()
      }
    }),
    failed.then(([error]) => { throw new Error(`redis-server could not start (is the Debian package installed?): ${String(error)}`) })
  ])
  return { url: `redis://127.0.0.1:${port}/0`, port, process: child, stop }
}

/**
 * tap instruments every child it can. A child that loads src/ through tsx maps its coverage onto
 * another transpilation than tap's own, and merged they garble the report, so such children opt out.
 */
export const NO_CHILD_COVERAGE = { _TAPJS_PROCESSINFO_COVERAGE_: '0' }

const GATEWAY_START_TIMEOUT_MS = 60_000

export interface GatewayProcess { url: string, process: ChildProcess, output: () => string }

/**
 * Node without the hooks tap adds to every child process through NODE_OPTIONS: they turn source
 * maps on, which the built gateway's launcher answers by leaving its code cache aside.
 */
export const NODE_WITHOUT_TAP_HOOKS = ['env', '-u', 'NODE_OPTIONS', process.execPath]

/**
 * The real server entry point in its own process, as operators run it: from source by default;
 * `program` runs another entry point instead (e.g. a built `server.js`), `node` another command line
 * for Node (e.g. NODE_WITHOUT_TAP_HOOKS).
 */
export async function spawnGateway (t: Test, env: Record<string, string | undefined>, program: string[] = ['--import', 'tsx', 'src/server.ts'], node = [process.execPath]): Promise<GatewayProcess> {
  const port = await freePort()
  const [command, ...nodeArgs] = node as [string, ...string[]]
  const child = spawn(command, [...nodeArgs, ...program], {
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE, ...testEnvironment({ HOST: '127.0.0.1', PORT: String(port), ...env }) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })
  const url = `http://127.0.0.1:${port}`
  // A cold start through tsx, beside other test files on a loaded machine, can take well over 15 s.
  await waitFor(`gateway on ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${output}`)
    return (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true
  }, GATEWAY_START_TIMEOUT_MS)
  return { url, process: child, output: () => output }
}
