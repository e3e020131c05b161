import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { cpuMsOf } from './cpu.js'

const running = new Set<ChildProcess>()

/** Remembers a child so that it is killed if the runner exits or is interrupted before stopping it. */
export function track (child: ChildProcess): ChildProcess {
  running.add(child)
  child.once('exit', () => running.delete(child))
  return child
}

function killAll (): void {
  for (const child of running) child.kill('SIGKILL')
}
process.once('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    process.exit(130)
  })
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  /** ms from spawn() to the first 2xx answer on the ready path */
  startupMs: number
  memory (): Promise<Memory>
  /** CPU time used so far, ms */
  cpuMs (): Promise<number>
  /** the last 4,000 characters it wrote to stderr */
  stderr (): string
  stop (): Promise<void>
}

export interface Memory {
  /** resident set size now, bytes */
  rss: number
  /** the highest resident set size the process has had (VmHWM), bytes */
  peakRss: number
}

export interface ServerSpec {
  /** what the runner calls it in errors */
  name: string
  command: string
  args: string[]
  env: Record<string, string>
  /** default /readyz */
  readyPath?: string
  port: number
  timeoutMs?: number
}

const READY_POLL_MS = 2
const DEFAULT_READY_TIMEOUT_MS = 15_000
const STOP_GRACE_MS = 5000

/**
 * Starts a server process and times it to its first good answer, polling every 2 ms. Its output
 * goes to /dev/null (the cheapest log sink there is, the same for every server); the tail of
 * stderr is kept for the error when it dies.
 */
export async function startServer (spec: ServerSpec): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${spec.port}`
  const started = performance.now()
  const child = track(spawn(spec.command, spec.args, { env: { PATH: process.env.PATH ?? '', ...spec.env }, stdio: ['ignore', 'ignore', 'pipe'] }))
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  const deadline = started + (spec.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS)
  const readyUrl = `${url}${spec.readyPath ?? '/readyz'}`
  let startupMs: number | undefined
  while (startupMs === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${spec.name} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr}`)
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${spec.name} was not ready within ${spec.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms: ${stderr}`)
    }
    if (await answers(readyUrl)) startupMs = performance.now() - started
    else await sleep(READY_POLL_MS)
  }
  return {
    child,
    url,
    startupMs,
    memory: async () => memoryOf(child.pid!),
    cpuMs: async () => cpuMsOf(child.pid!),
    stderr: () => stderr,
    stop: async () => stopProcess(child)
  }
}

async function answers (url: string): Promise<boolean> {
  try {
    const response = await request(url, { reset: true })
    await response.body.dump()
    return response.statusCode >= 200 && response.statusCode < 300
  } catch {
    return false
  }
}

export async function memoryOf (pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kilobytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024
  return { rss: kilobytes('VmRSS'), peakRss: kilobytes('VmHWM') }
}

export async function stopProcess (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}
