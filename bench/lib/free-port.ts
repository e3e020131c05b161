import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'

/** Where the kernel's own port picks start (`ip_local_port_range`), and Linux's default. */
function ephemeralPortsStart (): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(start) && start > 0) return start
  } catch {}
  return 32_768
}

/** Below the ephemeral range, and above the ports services usually take (Redis 6379, Prometheus 9090…). */
const LOWEST_PORT = 20_000
const ATTEMPTS = 50

/** Whether a listen on this loopback port works now; 0 takes one the kernel picks. */
async function probe (port: number): Promise<number | undefined> {
  const server = createServer()
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { resolve(true) })
  })
  if (!listening) return undefined
  const { port: bound } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return bound
}

/**
 * A loopback port that was free a moment ago, for a server whose URL must be known before it
 * starts (a gateway that signs delivery-report URLs to itself, Kannel's config). Shared by the
 * benchmarks and the tests; it has no side effects, unlike the rest of bench/lib.
 *
 * It is drawn at random from below the ephemeral range: a port the kernel hands out itself (a
 * listen on 0) is one every outgoing connection on the machine may take as its own end before
 * the server binds it, which a test running beside others' connections did. Below that range only
 * another listener can take it. The kernel's pick stays the fallback on a machine whose range
 * starts too low to leave room.
 */
export async function freePort (): Promise<number> {
  const room = ephemeralPortsStart() - LOWEST_PORT
  const attempts = room > ATTEMPTS ? ATTEMPTS : 0
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await probe(LOWEST_PORT + Math.floor(Math.random() * room))
    if (port !== undefined) return port
  }
  const port = await probe(0)
  if (port === undefined) throw new Error('no loopback port could be listened on')
  return port
}
