import { spawn, type ChildProcess } from 'node:child_process'
import { access, constants, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { freePort } from './free-port.js'
import { cpuMsOf } from './cpu.js'
import { stopProcess, track } from './processes.js'

/**
 * Kannel 1.4.5 (Debian package `kannel`) as an HTTP-to-HTTP gateway: smsbox takes
 * `/cgi-bin/sendsms`, bearerbox queues the message in memory and delivers it through one generic
 * HTTP SMSC, a GET on `send-url`. No store file, warnings only, everything on 127.0.0.1.
 */
export const BEARERBOX = '/usr/sbin/bearerbox'
export const SMSBOX = '/usr/sbin/smsbox'
export const KANNEL_USER = { username: 'bench', password: 'bench-sendsms' }
const ADMIN_PASSWORD = 'bench-admin'
/** Kannel's own numbering: 2 is warnings and worse. */
const WARNINGS_ONLY = '2'
const READY_TIMEOUT_MS = 15_000
const POLL_MS = 20

export interface KannelOptions {
  directory: string
  /** the SerwerSMS-compatible upstream, base URL with trailing slash */
  upstreamUrl: string
  upstreamUser: { username: string, password: string }
  /** HTTP requests bearerbox keeps in flight to the upstream */
  maxPendingSubmits: number
  /** the body of a successful send_sms answer contains this */
  successRegex: string
}

export interface KannelStatus {
  /** messages bearerbox has sent to the SMSC layer */
  sent: number
  /** messages waiting in bearerbox's global queue plus the SMSC's own queue */
  queued: number
  failed: number
  smscOnline: boolean
  smsboxConnected: boolean
}

export interface Kannel {
  sendsmsUrl: string
  status (): Promise<KannelStatus>
  /** CPU time bearerbox and smsbox have used so far, ms */
  cpuMs (): Promise<number>
  stop (): Promise<void>
}

export async function findKannel (): Promise<string | undefined> {
  for (const binary of [BEARERBOX, SMSBOX]) {
    try {
      await access(binary, constants.X_OK)
    } catch {
      return `${binary} is missing (install the Debian package: apt-get install kannel)`
    }
  }
  return undefined
}

export async function startKannel (options: KannelOptions): Promise<Kannel> {
  await mkdir(options.directory, { recursive: true })
  const ports = { admin: await freePort(), smsbox: await freePort(), smsc: await freePort(), sendsms: await freePort() }
  const configPath = join(options.directory, 'kannel.conf')
  await writeFile(configPath, kannelConfig(options, ports))
  const adminUrl = `http://127.0.0.1:${ports.admin}`
  const children: ChildProcess[] = []
  const stop = async () => {
    // smsbox first, so bearerbox does not wait for it.
    for (const child of [...children].reverse()) await stopProcess(child)
  }
  const status = async () => readStatus(adminUrl)
  try {
    children.push(startBox(BEARERBOX, configPath))
    await until('bearerbox admin port', children, async () => (await status()).smscOnline)
    children.push(startBox(SMSBOX, configPath))
    await until('smsbox connected to bearerbox', children, async () => (await status()).smsboxConnected)
  } catch (error) {
    await stop()
    throw error
  }
  const cpuMs = async () => (await Promise.all(children.map(async (child) => cpuMsOf(child.pid!)))).reduce((sum, ms) => sum + ms, 0)
  return { sendsmsUrl: `http://127.0.0.1:${ports.sendsms}`, status, cpuMs, stop }
}

function kannelConfig (options: KannelOptions, ports: { admin: number, smsbox: number, smsc: number, sendsms: number }): string {
  const { username, password } = options.upstreamUser
  // %p receiver, %P sender, %b the text, each URL-encoded by Kannel.
  const sendUrl = `${options.upstreamUrl}messages/send_sms?username=${username}&password=${password}&phone=%p&sender=%P&text=%b`
  return `group = core
admin-port = ${ports.admin}
admin-interface = 127.0.0.1
admin-password = ${ADMIN_PASSWORD}
status-password = ${ADMIN_PASSWORD}
admin-allow-ip = "127.0.0.1"
smsbox-port = ${ports.smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "${join(options.directory, 'bearerbox.log')}"
log-level = ${WARNINGS_ONLY}
sms-resend-retry = 3
sms-resend-freq = 1
dlr-storage = internal

group = smsc
smsc = http
smsc-id = simulator
system-type = generic
port = ${ports.smsc}
connect-allow-ip = "127.0.0.1"
send-url = "${sendUrl}"
status-success-regex = "${options.successRegex.replaceAll('"', '\\"')}"
max-pending-submits = ${options.maxPendingSubmits}

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${ports.smsbox}
sendsms-port = ${ports.sendsms}
sendsms-interface = 127.0.0.1
log-file = "${join(options.directory, 'smsbox.log')}"
log-level = ${WARNINGS_ONLY}

group = sendsms-user
username = ${KANNEL_USER.username}
password = ${KANNEL_USER.password}
`
}

function startBox (binary: string, configPath: string): ChildProcess {
  return track(spawn(binary, ['-v', WARNINGS_ONLY, configPath], { stdio: 'ignore' }))
}

async function until (what: string, children: readonly ChildProcess[], probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    const dead = children.find((child) => child.exitCode !== null || child.signalCode !== null)
    if (dead !== undefined) throw new Error(`${what}: ${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode})`)
    if (await probe().catch(() => false)) return
    await sleep(POLL_MS)
  }
  throw new Error(`${what}: not ready within ${READY_TIMEOUT_MS} ms`)
}

async function readStatus (adminUrl: string): Promise<KannelStatus> {
  const response = await request(`${adminUrl}/status.txt?password=${ADMIN_PASSWORD}`)
  return parseKannelStatus(await response.body.text())
}

/** Reads bearerbox's status.txt, e.g. `SMS: received 0 (0 queued), sent 12 (3 queued)` and the SMSC line. */
export function parseKannelStatus (text: string): KannelStatus {
  const sms = /^SMS: received \d+ \((\d+) queued\), sent (\d+) \((\d+) queued\)/m.exec(text)
  const smsc = /failed (\d+), queued (\d+) msgs/.exec(text)
  return {
    sent: Number(sms?.[2] ?? 0),
    queued: Number(sms?.[3] ?? 0) + Number(smsc?.[2] ?? 0),
    failed: Number(smsc?.[1] ?? 0),
    smscOnline: /\(online \d+s/.test(text),
    smsboxConnected: /smsbox:\S*, IP [^\n]*on-line/.test(text)
  }
}
