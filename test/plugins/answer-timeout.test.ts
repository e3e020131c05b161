import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AddressInfo } from 'node:net'
import { connect, type Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ANSWER_NOT_TAKEN, CALLER_LEFT_MID_ANSWER, GatewayLogController } from '../../src/logging.js'
import answerTimeoutPlugin, { ANSWER_MIN_TAKE_RATE, ANSWER_TIMEOUT_MS, CLOSED_QUIET_AT_SHUTDOWN } from '../../src/plugins/answer-timeout.js'
import pipeliningPlugin from '../../src/plugins/pipelining.js'
import requestLogPlugin, { CALLER_LEFT } from '../../src/plugins/request-log.js'
import { REQUEST_TIMEOUT_MS } from '../../src/server-options.js'
import { LogCapture, startGateway } from '../helper.js'
import { waitFor } from '../servers.js'

const TIMEOUT_MS = 300
/** Far more than loopback's socket buffers take on both ends: an answer that is not read stays unwritten. */
const BIG = 'x'.repeat(32 * 1024 * 1024)
const CHUNK = 64 * 1024
/** Longer than TIMEOUT_MS, so that a timeout wrongly set on the connection would cut it first. */
const WAIT_MS = 3 * TIMEOUT_MS

interface Served { url: URL, logs: LogCapture, app: FastifyInstance }

/** `minTakeRate` Infinity: no allowance for a long write, so that tests of the timeout itself need not wait it out. */
async function serve (t: Test, { closingTimeoutMs = TIMEOUT_MS, minTakeRate = Infinity } = {}): Promise<Served> {
  const logs = new LogCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs }, logController: new GatewayLogController() })
  await app.register(pipeliningPlugin)
  await app.register(answerTimeoutPlugin, { timeoutMs: TIMEOUT_MS, closingTimeoutMs, minTakeRate })
  await app.register(requestLogPlugin)
  app.get('/big', async () => BIG)
  // Written a chunk at a time: Node completes a write per chunk the caller takes.
  app.get('/streamed', async (_request, reply) => reply.header('content-length', BIG.length).send(Readable.from((function * () { for (let at = 0; at < BIG.length; at += CHUNK) yield Buffer.from(BIG.slice(at, at + CHUNK)) })())))
  app.get('/small', async () => 'small')
  app.get('/slow', async () => { await sleep(WAIT_MS); return 'slow' })
  // As idempotency's onSend does while it stores an answer: nothing is written meanwhile.
  app.get('/stored-big', { onSend: async (_request, _reply, payload) => { await sleep(WAIT_MS); return payload } }, async () => BIG)
  app.get('/stored', { onSend: async (_request, _reply, payload) => { await sleep(WAIT_MS); return payload } }, async () => 'stored')
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  return { url: new URL(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`), logs, app }
}

/** One connection that writes a GET for each path at once (HTTP/1.1 pipelining). */
function requestOn ({ url }: Served, paths: string[]): Socket {
  const socket = connect(Number(url.port), '127.0.0.1')
  socket.on('error', () => {})
  socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`).join(''))
  return socket
}

/** The answers read whole (bodies of up to 1 KiB kept, longer ones only measured), until `count` came or the connection closed. */
async function read (socket: Socket, count: number): Promise<{ bodies: string[], lengths: number[], closed: boolean }> {
  return await new Promise((resolve) => {
    const bodies: string[] = []
    const lengths: number[] = []
    let head = ''
    let bodyLeft = -1
    let body = ''
    const feed = (chunk: Buffer): void => {
      if (bodyLeft < 0) {
        head += chunk.toString('latin1')
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        bodyLeft = Number(/content-length: (\d+)/i.exec(head.slice(0, end))![1])
        lengths.push(bodyLeft)
        const rest = Buffer.from(head.slice(end + 4), 'latin1')
        head = ''
        body = ''
        return feed(rest)
      }
      const taken = Math.min(bodyLeft, chunk.length)
      if (lengths.at(-1)! <= 1024) body += chunk.toString('latin1', 0, taken)
      bodyLeft -= taken
      if (bodyLeft > 0) return
      bodies.push(body)
      bodyLeft = -1
      if (bodies.length === count) resolve({ bodies, lengths, closed: false })
      else if (taken < chunk.length) feed(chunk.subarray(taken))
    }
    socket.on('data', feed)
    socket.on('close', () => { resolve({ bodies, lengths, closed: true }) })
  })
}

const connections = async ({ app }: Served) => await new Promise<number>((resolve) => { app.server.getConnections((_error, count) => { resolve(count) }) })

const closed = async (socket: Socket) => await new Promise<void>((resolve) => {
  if (socket.destroyed) resolve()
  else socket.on('close', () => { resolve() })
})

t.test('as long as a caller has to send its request', async (t) => {
  t.equal(ANSWER_TIMEOUT_MS, REQUEST_TIMEOUT_MS)
})

/** The first log line with this message, once written. */
async function lineOf (served: Served, msg: string, path: string): Promise<Record<string, unknown>> {
  for (let tries = 0; ; tries++) {
    const line = served.logs.entries.find((entry) => entry.msg === msg && entry.path === path)
    if (line !== undefined) return line
    if (tries === 250) throw new Error(`no line "${msg}" for ${path}`)
    await sleep(20)
  }
}

t.test('a caller that takes none of its answer has its connection closed, and the line says why', async (t) => {
  const served = await serve(t)
  const socket = requestOn(served, ['/big'])
  // A paused socket reads nothing from the kernel: it learns that it was closed once it reads again.
  socket.pause()
  const started = Date.now()
  const line = await lineOf(served, ANSWER_NOT_TAKEN, '/big')
  t.ok(Date.now() - started >= TIMEOUT_MS, 'not before the timeout')
  t.match(line, { level: 40, statusCode: 200, answerTimeoutMs: TIMEOUT_MS })
  t.notOk('callerLeft' in line, 'the caller did not hang up: the gateway closed the connection')
  t.notOk(served.logs.entries.some((entry) => entry.msg === CALLER_LEFT_MID_ANSWER))
  socket.resume()
  await closed(socket)
  t.ok(socket.bytesRead < BIG.length, 'the caller got the start of the answer at most')
})

t.test('a caller that takes none of an answer stored first, or that stops part-way through a streamed one, has its connection closed', async (t) => {
  const served = await serve(t)
  const stored = requestOn(served, ['/stored-big'])
  stored.pause()
  t.match(await lineOf(served, ANSWER_NOT_TAKEN, '/stored-big'), { answerTimeoutMs: TIMEOUT_MS }, 'stored first')
  stored.destroy()
  await waitFor('the connection to go', async () => await connections(served) === 0)
  const streamed = requestOn(served, ['/streamed'])
  streamed.once('data', () => { streamed.pause() })
  await waitFor('the connection to be taken', async () => await connections(served) === 1)
  // fastify writes no completion line for a streamed answer whose connection goes before its end.
  await waitFor('a streamed answer whose caller stopped taking it to be closed', async () => await connections(served) === 0, 5000)
  streamed.destroy()
})

t.test('once the gateway is closing, a connection that takes nothing of its answer is closed sooner, a long answer\'s allowance gone', async (t) => {
  // 1 MiB/s: the 32 MiB answer would have 32 s more.
  const served = await serve(t, { closingTimeoutMs: 50, minTakeRate: 1024 * 1024 })
  const socket = requestOn(served, ['/stored-big'])
  socket.pause()
  await sleep(100)
  const started = Date.now()
  await served.app.close()
  const line = await lineOf(served, ANSWER_NOT_TAKEN, '/stored-big')
  t.equal(line.answerTimeoutMs, 50)
  t.ok(Date.now() - started < WAIT_MS + TIMEOUT_MS, `closed in ${Date.now() - started} ms`)
  socket.destroy()
})

t.test('once closing, a connection with nothing in hand is closed when nothing came on it for the closing limit; a request in hand is answered', async (t) => {
  const served = await serve(t, { closingTimeoutMs: 50 })
  const { port } = served.url
  const raw = (text: string) => {
    const socket = connect(Number(port), '127.0.0.1')
    socket.on('error', () => {})
    if (text !== '') socket.write(text)
    return socket
  }
  const silent = raw('')
  const halfHead = raw('GET /small HTTP/1.1\r\nHo')
  const stalledBody = raw('POST /small HTTP/1.1\r\nHost: gw\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nabc')
  const inHand = requestOn(served, ['/slow'])
  const answered = read(inHand, 1)
  await waitFor('the connections to be taken', async () => await connections(served) === 4)
  const started = Date.now()
  // Node's server.close() waits for every connection: these would hold it (fastify sets no request timeout here).
  await served.app.close()
  t.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`)
  t.same((await answered).bodies, ['slow'], 'the request in hand is answered')
  for (const socket of [silent, halfHead, stalledBody]) await closed(socket)
  const quietLines = served.logs.entries.filter((entry) => entry.msg === CLOSED_QUIET_AT_SHUTDOWN)
  // And the answered one's, quiet in its turn once its answer was written.
  t.ok(quietLines.length >= 3, `each quiet one closed, and said so (${quietLines.length} lines)`)
  t.same(quietLines.slice(0, 3).map((line) => line.bytesRead).sort((a, b) => Number(a) - Number(b)), [0, 23, 83], 'the silent one, the half head and the stalled body')
  inHand.destroy()
})

t.test('a caller that reads its answer gets all of it, and may use the connection again after the timeout', async (t) => {
  const served = await serve(t)
  const socket = requestOn(served, ['/big'])
  const { lengths, closed: cut } = await read(socket, 1)
  t.notOk(cut, 'not closed')
  t.same(lengths, [BIG.length], 'the whole answer came')
  // Idle for longer than the timeout: only Node's keep-alive timeout (72 s) applies now.
  await sleep(WAIT_MS)
  socket.write('GET /small HTTP/1.1\r\nHost: gw\r\n\r\n')
  t.same((await read(socket, 1)).bodies, ['small'])
  socket.destroy()
})

/**
 * Reads one answer at ~20 MB/s (400 kB at most every 20 ms): the 32 MiB one takes several timeouts
 * to come, far more than the connection's buffers hold (the gateway waits on the caller all along).
 */
async function readSlowly (t: Test, served: Served, path: string): Promise<void> {
  const socket = requestOn(served, [path])
  const started = Date.now()
  let taken = 0
  socket.on('data', (chunk: Buffer) => { if ((taken += chunk.length) >= 400_000) socket.pause() })
  const steady = setInterval(() => { taken = 0; socket.resume() }, 20)
  t.teardown(() => { clearInterval(steady) })
  const { closed: cut, lengths } = await read(socket, 1)
  clearInterval(steady)
  t.ok(Date.now() - started > 3 * TIMEOUT_MS, `it took several timeouts (${Date.now() - started} ms)`)
  t.notOk(cut, 'not closed')
  t.same(lengths, [BIG.length], 'the whole answer came')
  t.notOk(served.logs.entries.some((entry) => entry.msg === ANSWER_NOT_TAKEN))
  socket.destroy()
}

t.test('a caller that takes a streamed answer slowly, a little at a time, keeps its connection', async (t) => {
  await readSlowly(t, await serve(t), '/streamed')
})

t.test('a long answer, one write, has the time its length needs at the slowest rate a caller may take it', async (t) => {
  t.equal(ANSWER_MIN_TAKE_RATE, 64 * 1024, '64 KiB/s: ~110 s more for the largest answer (~7 MB)')

  t.test('a caller that takes it slowly gets all of it, though Node reports no progress until the write ends', async (t) => {
    // 8 MiB/s: the 32 MiB answer has the timeout and 4 s more.
    await readSlowly(t, await serve(t, { minTakeRate: 8 * 1024 * 1024 }), '/big')
  })

  t.test('a caller that takes none of it has its connection closed once that time is out, and the line says how long it had', async (t) => {
    // 32 MiB/s: the 32 MiB answer (and its head) has the timeout and a second more.
    const served = await serve(t, { minTakeRate: 32 * 1024 * 1024 })
    const socket = requestOn(served, ['/big'])
    socket.pause()
    const started = Date.now()
    const line = await lineOf(served, ANSWER_NOT_TAKEN, '/big')
    const allowedMs = line.answerTimeoutMs as number
    t.ok(allowedMs > TIMEOUT_MS + 1000 && allowedMs < TIMEOUT_MS + 1010, `${allowedMs} ms: the timeout, and the answer's bytes at the rate`)
    t.ok(Date.now() - started >= allowedMs, 'not before')
    socket.destroy()
  })
})

t.test('requests made with inject, which have no connection, are let be', async (t) => {
  const served = await serve(t)
  t.equal((await served.app.inject('/small')).body, 'small')
  await sleep(3 * TIMEOUT_MS)
  t.equal((await served.app.inject('/small')).body, 'small', 'the gateway goes on')
})

t.test('a request waits for its answer as long as it takes: the clock runs only while an answer waits to be written', async (t) => {
  const served = await serve(t)
  // After an answer on the same connection too (pipelined, it has the connection at once).
  await Promise.all([['/slow'], ['/small', '/slow'], ['/small', '/stored'], ['/stored']].map(async (paths) => {
    const socket = requestOn(served, paths)
    const { bodies, closed: cut } = await read(socket, paths.length)
    t.notOk(cut, `${paths.join(', ')}: the connection is kept`)
    t.same(bodies, paths.map((path) => path.slice(1)), `${paths.join(', ')}: answered`)
    socket.destroy()
  }))
})

t.test('an answer queued behind one its caller does not take is closed with it', async (t) => {
  const served = await serve(t)
  const socket = requestOn(served, ['/big', '/small'])
  socket.pause()
  await lineOf(served, ANSWER_NOT_TAKEN, '/big')
  t.match(await lineOf(served, CALLER_LEFT, '/small'), { level: 40, statusCode: 200, callerLeft: true }, 'the one queued behind it has its line too')
  t.equal(served.logs.entries.filter((entry) => entry.msg === ANSWER_NOT_TAKEN).length, 1, 'the connection is closed once, for the answer being written')
  socket.destroy()
})

t.test('the gateway closes connections whose callers do not take their answers', async (t) => {
  const gw = await startGateway(t)
  t.match(gw.app.printPlugins(), /answer-timeout/)
})
