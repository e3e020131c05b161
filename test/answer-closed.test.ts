import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { whenAnswerClosed } from '../src/answer-closed.js'

/** A server whose one request's answer is handed to the test, unwritten. */
async function oneAnswer (t: Test): Promise<{ response: Promise<ServerResponse>, hangUp: () => void }> {
  let handOver: (response: ServerResponse) => void
  const response = new Promise<ServerResponse>((resolve) => { handOver = resolve })
  const server = createServer((_request, response) => { handOver(response) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  return { response, hangUp: () => socket.destroy() }
}

const settled = async (promise: Promise<void>, ms = 100): Promise<boolean> =>
  await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])

t.test('settles once the answer is written whole, not before', async (t) => {
  const { response } = await oneAnswer(t)
  const answer = await response
  const closed = whenAnswerClosed(answer)
  t.notOk(await settled(closed), 'pending while the answer is not written')
  answer.end('ok')
  t.ok(await settled(closed, 2000), 'settled once written')
})

t.test('settles once its caller hangs up, and when asked after they did', async (t) => {
  const first = await oneAnswer(t)
  const answer = await first.response
  const closed = whenAnswerClosed(answer)
  first.hangUp()
  t.ok(await settled(closed, 2000), 'asked before')
  t.ok(await settled(whenAnswerClosed(answer)), 'asked after its close was emitted')
})
