import { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { markAnswerNotTaken } from '../logging.js'
import { REQUEST_TIMEOUT_MS } from '../server-options.js'

/**
 * Longest a connection may hold part of an answer that its caller does not take: as long as a
 * caller has to send its request. Counted from when the answer is written to the connection, and
 * again from each write Node completes (each chunk of a streamed answer); the largest answer
 * (~7 MB for 100,000 recipients) is one write, taken whole in this time by a caller reading
 * ~250 KB/s.
 */
export const ANSWER_TIMEOUT_MS = REQUEST_TIMEOUT_MS

export interface AnswerTimeoutOptions {
  /** ANSWER_TIMEOUT_MS unless given (the tests' own, shorter) */
  timeoutMs?: number
}

/** What was last seen waiting to be written on a connection, and since when. */
interface Waiting { length: number, written: number, since: number }

/**
 * Closes a connection that holds part of an answer its caller does not take for ANSWER_TIMEOUT_MS.
 * A caller that stops reading (or never does) otherwise has the answer held for it for as long as
 * its connection stays open (for good, on a keep-alive one), and with it the whole call: a
 * 100,000-recipient answer left unread kept ~50 MB.
 *
 * The connections that answers went to are looked at a few times per timeout, not timed one by one:
 * a timer per answer cost every request ~4% more CPU. A connection with nothing waiting to be
 * written is let go of: one whose request waits on SerwerSMS, or whose answer is still being
 * stored for its Idempotency-Key, has written nothing yet, and is looked at again once it has.
 */
export default fp<AnswerTimeoutOptions>(async function answerTimeoutPlugin (app, { timeoutMs = ANSWER_TIMEOUT_MS }) {
  const watched = new Map<Socket, Waiting | undefined>()

  // A callback hook: it runs on every request. Only real connections: fastify's inject has none.
  app.addHook('onSend', (request, _reply, payload, done) => {
    const socket = request.raw.socket
    if (socket instanceof Socket && !watched.has(socket)) watched.set(socket, undefined)
    done(null, payload)
  })

  const look = (): void => {
    const now = Date.now()
    for (const [socket, seen] of watched) {
      const length = socket.writableLength
      if (socket.destroyed || length === 0) {
        watched.delete(socket)
        continue
      }
      // A write completed (the length fell) or another began (more was written): the caller takes.
      const written = socket.bytesWritten
      if (seen === undefined || seen.length !== length || seen.written !== written) {
        watched.set(socket, { length, written, since: now })
      } else if (now - seen.since >= timeoutMs) {
        watched.delete(socket)
        markAnswerNotTaken(socket, timeoutMs)
        socket.destroy()
      }
    }
  }
  const lookout = setInterval(look, Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))))
  lookout.unref()
  app.addHook('onClose', async () => { clearInterval(lookout) })
}, { name: 'answer-timeout', fastify: '5.x' })
