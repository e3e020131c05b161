import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { Redis, ReplyError } from 'ioredis'
import t, { type Test } from 'tap'
import { lostWithConnection } from '../../src/idempotency/redis-store.js'
import { sendKeyed, startGateway } from '../helper.js'
import { startRedis, waitFor } from '../servers.js'

const KEY_PREFIX = 'sms-gateway:idempotency:billing:'
const RELEASING = 'the idempotency claim may have been taken though its answer was lost; releasing it in the background'

/**
 * A TCP proxy in front of Redis that, once armed with a key, passes on the next command naming it
 * and then drops the connection instead of passing back Redis's answer: the command was carried
 * out, and its sender never learns so.
 */
async function startAnswerDroppingProxy (t: Test, redisPort: number) {
  let armedFor: string | undefined
  let dropped = 0
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let dropNextAnswer = false
    client.on('data', (chunk) => {
      if (armedFor !== undefined && chunk.includes(armedFor)) {
        armedFor = undefined
        dropNextAnswer = true
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (!dropNextAnswer) return client.write(chunk)
      dropped++
      client.destroy()
      upstream.destroy()
    })
    const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropAnswerTo: (key: string) => { armedFor = key },
    dropped: () => dropped
  }
}

t.test('a claim Redis carried out but whose answer was lost is released once Redis answers again', async (t) => {
  const redisServer = await startRedis(t)
  const proxy = await startAnswerDroppingProxy(t, redisServer.port)
  const gw = await startGateway(t, { env: { REDIS_URL: proxy.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())

  proxy.dropAnswerTo(`${KEY_PREFIX}lost-1`)
  const first = await sendKeyed(gw.url, 'lost-1')
  t.equal(first.status, 503, 'the claim failed on the gateway\'s side: nothing was sent')
  t.equal(proxy.dropped(), 1, 'Redis answered the claim, and the answer was dropped')
  t.equal(gw.simulator.stats.sendRequests, 0)

  t.ok(gw.logs.entries.some((entry) => entry.msg === RELEASING))
  await waitFor('the claim to be released in the background', async () => await admin.exists(`${KEY_PREFIX}lost-1`) === 0)
  // This test's own connection can see the key gone before the gateway's has read the same answer.
  await waitFor('the release to be logged', () => gw.logs.entries.some((entry) => entry.msg === 'released the idempotency key after the store came back'))
  const retry = await sendKeyed(gw.url, 'lost-1')
  t.equal(retry.status, 200, 'the retry with the same key sends, instead of 409 and then "outcome unknown"')
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
})

t.test('while Redis is down, refused claims leave nothing to release', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  await redisServer.stop()
  await waitFor('the outage to be noticed', () => gw.logs.entries.some((e) => e.msg === 'redis connection failed'))
  for (let i = 0; i < 20; i++) t.equal((await sendKeyed(gw.url, `down-${i}`)).status, 503)
  // Closing makes one last attempt at whatever is still waiting, and says how many failed.
  await gw.app.close()
  t.notOk(gw.logs.entries.some((e) => /closing with idempotency keys/.test(String(e.msg))), 'no background release was waiting')
})

t.test('a claim Redis refused, or one that timed out on a connection that stays up, leaves nothing to release later', async (t) => {
  const redisServer = await startRedis(t)
  const gw = await startGateway(t, { env: { REDIS_URL: redisServer.url } })
  const admin = new Redis(redisServer.url)
  t.teardown(() => admin.disconnect())

  // Timed out: the release queued behind the SET on the same connection undoes it if it lands late
  // (test/redis/redis-plugin.test.ts); a background loop per request would pile up while Redis stalls.
  // Long enough for the rate limiter's own write (shared through Redis) to time out first, then the claim's.
  await admin.call('CLIENT', 'PAUSE', '2500', 'WRITE')
  const timedOut = await sendKeyed(gw.url, 'timed-out-claim')
  t.equal(timedOut.status, 503, await timedOut.text())
  // Refused: Redis answers the SET with an error (out of memory), so it stored nothing.
  await admin.config('SET', 'maxmemory', '1')
  const refused = await sendKeyed(gw.url, 'refused-claim')
  t.equal(refused.status, 503, await refused.text())
  await admin.config('SET', 'maxmemory', '0')
  t.notOk(gw.logs.entries.some((e) => e.msg === RELEASING), 'no background release for either')
  t.equal(gw.simulator.stats.sendRequests, 0)
})

t.test('only a connection lost with the command on its way counts as maybe carried out', async (t) => {
  t.ok(lostWithConnection(new Error('Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.')))
  t.ok(lostWithConnection(new Error('Connection is closed.')))
  t.notOk(lostWithConnection(new Error('Command timed out')))
  t.notOk(lostWithConnection(new Error("Stream isn't writeable and enableOfflineQueue options is false")))
  t.notOk(lostWithConnection(new ReplyError('OOM command not allowed when used memory > \'maxmemory\'.')))
  t.notOk(lostWithConnection('Connection is closed.'))
})
