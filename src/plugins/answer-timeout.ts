import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { REQUEST_TIMEOUT_MS } from '../server-options.js'
import { addLogFields } from './request-log.js'

/**
 * Longest a connection may go without taking any of an answer the gateway has written to it: as
 * long as a caller has to send its request. Node counts it from the answer's write and from every
 * write it completes after; the largest answer (~7 MB for 100,000 recipients) is one write, read
 * whole in this time by a caller taking ~250 KB/s.
 */
export const ANSWER_TIMEOUT_MS = REQUEST_TIMEOUT_MS

export interface AnswerTimeoutOptions {
  /** ANSWER_TIMEOUT_MS unless given (the tests' own, shorter) */
  timeoutMs?: number
}

const kReady = Symbol('answers ready')
/** Of this server's own connections only (fastify's inject has none), the answers made and not yet closed. */
type WatchedSocket = Socket & { [kReady]?: number }

/**
 * Closes a connection whose caller takes none of its answer for ANSWER_TIMEOUT_MS. A caller that
 * stops reading (or never does) otherwise has the answer held for it as long as its connection
 * stays open — for good on a keep-alive one — and with it the whole call: a 100,000-recipient
 * answer left unread kept ~50 MB for as long as its caller liked.
 *
 * The connection's timeout is set only while an answer is ready to be written: before that, a
 * request may wait on SerwerSMS as long as it takes, and after it, Node's keep-alive timeout is
 * the connection's. An answer still in its onSend hooks (its result being stored for its
 * Idempotency-Key) has written nothing yet and is not cut for it.
 */
export default fp<AnswerTimeoutOptions>(async function answerTimeoutPlugin (app, { timeoutMs = ANSWER_TIMEOUT_MS }) {
  app.server.on('connection', (socket: WatchedSocket) => { socket[kReady] = 0 })

  // A callback hook: it runs on every request. Registered first, it runs before any route's own.
  app.addHook('onSend', (request, reply, payload, done) => {
    const socket = request.raw.socket as WatchedSocket
    const ready = socket[kReady]
    if (ready === undefined || socket.destroyed) return done(null, payload)
    socket[kReady] = ready + 1
    const response: ServerResponse = reply.raw
    // Applied to the connection now, or when an answer queued behind another (pipelining) gets it.
    // With a listener on the answer, Node leaves a timed-out connection for it to close.
    response.setTimeout(timeoutMs, () => {
      // Nothing waiting to be written: the answer is not written yet, and Node counts afresh when it is.
      if (socket.writableLength === 0) return
      addLogFields(request, { answerTimeoutMs: timeoutMs })
      socket.destroy()
    })
    response.once('close', () => {
      const left = socket[kReady]! - 1
      socket[kReady] = left
      // Unless Node has since set its keep-alive timeout (the connection is idle), or another answer
      // on it is ready: the next request's own wait (on SerwerSMS) is not bounded.
      if (left === 0 && socket.timeout === timeoutMs) socket.setTimeout(0)
    })
    done(null, payload)
  })
}, { name: 'answer-timeout', fastify: '5.x' })
