import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { sendKeyed, startGateway, type GatewayUnderTest } from '../helper.js'
import { readYaml } from '../deploy/helpers.js'
import { redisDataDir, startRedis, waitFor } from '../servers.js'

const send = async (gw: GatewayUnderTest, key: string, text = 'Pay 10 PLN') => sendKeyed(gw.url, key, { body: { to: '+48500600700', text } })

/** The settings docker-compose.yml runs its Redis with. */
function composeRedisArgs (): string[] {
  const compose = readYaml<{ services: Record<string, { command?: string[] }> }>('docker-compose.yml')
  const [program, ...args] = compose.services.redis?.command ?? []
  if (program !== 'redis-server') throw new Error('docker-compose.yml runs no redis-server')
  return args
}

interface Gate { url: string, target: string, received: () => number, open: () => void }

/**
 * An upstream that passes requests on to `target` (the simulator) and answers with what came back,
 * but holds the first one until `open()`: that send stays at the provider exactly as long as the
 * test needs, however slow the machine, and no longer. Later requests pass at once, so a retry
 * that wrongly goes upstream fails the test at once instead of waiting for the gate.
 */
async function startGate (t: Test): Promise<Gate> {
  let received = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  const gate: Gate = { url: '', target: '', received: () => received, open: () => open() }
  const server = createServer((request, response) => {
    const wait = ++received === 1 ? opened : Promise.resolve()
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      wait.then(async () => {
        const headers: Record<string, string> = {}
        for (const name of ['content-type', 'accept', 'authorization']) {
          const value = request.headers[name]
          if (typeof value === 'string') headers[name] = value
        }
        const answer = await fetch(new URL(request.url ?? '/', gate.target), { method: request.method, headers, body: Buffer.concat(chunks) })
        const body = await answer.text()
        response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(body)
      }).catch((error: Error) => response.destroy(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return gate
}

t.test('Redis as docker-compose.yml runs it keeps a running send\'s claim through a crash and restart', async (t) => {
  // On tmpfs (test/deploy/compose.test.ts requires `appendfsync always` itself).
  const args = [...composeRedisArgs(), '--dir', redisDataDir(t)]
  const redis = await startRedis(t, undefined, args)
  const gate = await startGate(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redis.url, SERWERSMS_TIMEOUT_MS: '30000' }, upstreamUrl: gate.url })
  gate.target = gw.simulator.url
  const first = send(gw, 'crash-1')
  await waitFor('the send to reach the provider', () => gate.received() === 1)
  await redis.stop()
  await startRedis(t, redis.port, args)
  // A control character is refused after the key is claimed: 400 once Redis answers again, and nothing sent.
  await waitFor('the gateway to reach Redis again', async () => (await send(gw, `probe-${Date.now()}`, 'x\u0001')).status === 400)
  t.same([gate.received(), gw.simulator.received.length], [1, 0], 'the first send is still held at the provider, and nothing else went there')
  t.equal((await send(gw, 'crash-1')).status, 409, 'the retry finds the claim, not an empty Redis')
  gate.open()
  t.equal((await first).status, 200)
  const replay = await send(gw, 'crash-1')
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  t.equal(gate.received(), 1, 'one request upstream')
  t.equal(gw.simulator.received.length, 1, 'sent once')
})
