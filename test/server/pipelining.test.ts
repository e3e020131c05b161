import { readdirSync, readlinkSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { MAX_UNANSWERED_PER_CONNECTION } from '../../src/plugins/pipelining.js'
import { startGateway, type GatewayUnderTest } from '../helper.js'
import { waitFor } from '../servers.js'

const CONNECTION_CUT = `connection closed: more than ${MAX_UNANSWERED_PER_CONNECTION} requests on it were waiting for their answers (HTTP pipelining)`
const ASSET = '/docs/static/swagger-ui-bundle.js'

/** Files this process (the gateway under test runs in it) has open on the Swagger UI bundle. */
function openAssetFiles (): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).endsWith('swagger-ui-bundle.js')
    } catch {
      return false
    }
  }).length
}

/** One connection that writes `count` requests for `path` at once. */
function pipelined (gw: GatewayUnderTest, path: string, count: number): Socket {
  const { port } = new URL(gw.url)
  const socket = connect(Number(port), '127.0.0.1')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`.repeat(count))
  return socket
}

/** What the connection receives until the gateway closes it, or until `settleMs` pass without more. */
async function received (socket: Socket, settleMs = 500): Promise<string> {
  return await new Promise((resolve) => {
    let text = ''
    let quiet: NodeJS.Timeout | undefined
    const done = () => { clearTimeout(quiet); resolve(text) }
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      clearTimeout(quiet)
      quiet = setTimeout(done, settleMs)
    })
    socket.on('close', done)
    socket.on('error', () => {})
  })
}

const answers = (text: string) => text.match(/HTTP\/1\.1 200 OK\r\n/g)?.length ?? 0

t.test('a connection may pipeline up to the bound; past it, it is cut, said once, and other connections go on', async (t) => {
  const gw = await startGateway(t)
  const within = pipelined(gw, '/healthz', MAX_UNANSWERED_PER_CONNECTION)
  t.equal(answers(await received(within)), MAX_UNANSWERED_PER_CONNECTION, 'every one answered')
  t.notOk(within.destroyed, 'and the connection kept')
  within.write('GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n')
  t.equal(answers(await received(within)), 1, 'and used again')
  within.destroy()

  const past = pipelined(gw, '/healthz', 40)
  const text = await received(past, 5000)
  t.ok(past.destroyed || past.readableEnded, 'the connection is closed')
  // All of them came in one read: the connection is cut before the first answer is written.
  t.equal(answers(text), 0, 'none is answered')
  t.equal(gw.logs.entries.filter((entry) => entry.msg === CONNECTION_CUT).length, 1, 'said once for the connection')
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'other connections are served')
})

t.test('files streamed into answers queued on a connection are closed when it goes', async (t) => {
  const gw = await startGateway(t)
  const served = await fetch(`${gw.url}${ASSET}`)
  t.equal(served.status, 200, 'the asset is served')
  await served.arrayBuffer()
  const before = openAssetFiles()
  // Within the bound, the caller reading nothing and hanging up; past it, cut by the gateway while
  // the queued requests' files are still being opened.
  for (const count of [10, 60]) {
    const socket = pipelined(gw, ASSET, count)
    socket.pause()
    await new Promise((resolve) => setTimeout(resolve, 500))
    socket.destroy()
    await waitFor(`the files of ${count} pipelined requests to be closed`, () => openAssetFiles() === before, 5000)
  }
  t.equal(openAssetFiles(), before, 'none left open')
})
