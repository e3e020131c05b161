import { createServer, type AddressInfo } from 'node:net'

/**
 * A loopback port that was free a moment ago, for a server whose URL must be known before it
 * starts (a gateway that signs delivery-report URLs to itself, Kannel's config). Shared by the
 * benchmarks and the tests; it has no side effects, unlike the rest of bench/lib.
 */
export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}
