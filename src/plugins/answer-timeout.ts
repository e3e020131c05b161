import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { markAnswerNotTaken } from '../logging.js'
import { REQUEST_TIMEOUT_MS } from '../server-options.js'
import { hasRequestInHand } from './pipelining.js'

/**
 * Longest a connection may hold part of an answer that its caller does not take: as long as a
 * caller has to send its request. Counted from when the answer is written to the connection, and
 * again from each write Node completes (each chunk of a streamed answer); a long write adds
 * ANSWER_MIN_TAKE_RATE's allowance.
 */
export const ANSWER_TIMEOUT_MS = REQUEST_TIMEOUT_MS

/**
 * The slowest a caller may take a long answer, in bytes per second: a write's bytes at this rate
 * are added to its timeout. Node reports no progress within one write, and the largest answer
 * (~7 MB for 100,000 recipients) is one: without this, a caller reading it slower than ~250 KB/s
 * lost it after 30 s of reading (written in slices, a long answer would show progress, but fastify
 * then writes no completion line for it when its caller leaves). 64 KiB/s gives that answer
 * 30 + 110 s, and a 1 MB one 30 + 16 s; a caller that takes nothing loses its connection then too.
 * Not once the gateway is closing: shutdown waits ANSWER_TIMEOUT_WHILE_CLOSING_MS, no more.
 */
export const ANSWER_MIN_TAKE_RATE = 64 * 1024

/**
 * The same once the gateway is closing: it then waits for answers being taken, up to
 * SHUTDOWN_GRACE_MS (25 s by default), not for callers that stopped taking them.
 */
export const ANSWER_TIMEOUT_WHILE_CLOSING_MS = 5000

export interface AnswerTimeoutOptions {
  /** ANSWER_TIMEOUT_MS, ANSWER_TIMEOUT_WHILE_CLOSING_MS and ANSWER_MIN_TAKE_RATE unless given (the tests' own) */
  timeoutMs?: number
  closingTimeoutMs?: number
  minTakeRate?: number
}

/** What was last seen on a connection (waiting to be written, read, written), and since when. */
interface Seen { length: number, read: number, written: number, since: number }

export const CLOSED_QUIET_AT_SHUTDOWN = 'connection closed at shutdown: no request in hand, and nothing came or went on it'

/**
 * Closes a connection that holds part of an answer its caller does not take for ANSWER_TIMEOUT_MS.
 * A caller that stops reading (or never does) otherwise has the answer held for it for as long as
 * its connection stays open (for good, on a keep-alive one), and with it the whole call: a
 * 100,000-recipient answer left unread kept ~50 MB, and its recipients' share of
 * SMS_MAX_RECIPIENTS_IN_FLIGHT.
 *
 * The server's connections are looked at a few times per timeout, not timed answer by answer: a
 * timer per answer cost every send 4.6% more CPU (bench/README.md, twenty-first round), and this
 * costs a request nothing. The clock runs only while bytes wait to be written: not while a request
 * waits on SerwerSMS, nor while its answer is stored for its Idempotency-Key, nor between the
 * chunks of a streamed answer, nor on an idle keep-alive connection (Node's keep-alive timeout's).
 */
export default fp<AnswerTimeoutOptions>(async function answerTimeoutPlugin (app, { timeoutMs = ANSWER_TIMEOUT_MS, closingTimeoutMs = ANSWER_TIMEOUT_WHILE_CLOSING_MS, minTakeRate = ANSWER_MIN_TAKE_RATE }) {
  // Every open connection, and what was last seen on it (undefined: nothing yet).
  const open = new Map<Socket, Seen | undefined>()
  let limitMs = timeoutMs
  let closing = false

  app.server.on('connection', (socket: Socket) => {
    open.set(socket, undefined)
    socket.once('close', () => { open.delete(socket) })
  })

  /**
   * A connection with an answer waiting shows progress by what it takes: a write completed (the
   * length fell) or another began (more was written). Outside closing, one with nothing waiting is
   * let be; once something does, the length differs from what was seen, and the clock starts afresh.
   *
   * Once closing, a connection with nothing waiting and nothing in hand is closed too: one that
   * sent nothing yet (a browser's preconnect, a client pool's spare), or only part of a request
   * (headers, or a body that stalled). Node's closeIdleConnections leaves them open (a connection
   * counts as busy from its start until its first request is answered), and the request timeout
   * (30 s) outlasts the shutdown grace (25 s): one such connection held every stop the whole
   * grace, then exit 1. It shows progress by what comes or goes on it; a request that came whole
   * (its handler may be sending) is waited for.
   */
  const look = (): void => {
    const now = Date.now()
    for (const [socket, seen] of open) {
      const length = socket.writableLength
      if (length === 0 && !closing) continue
      const read = socket.bytesRead
      const written = socket.bytesWritten
      const moved = seen === undefined || seen.length !== length || seen.written !== written ||
        (length === 0 && (seen.read !== read || hasRequestInHand(socket)))
      if (moved) {
        open.set(socket, { length, read, written, since: now })
      } else if (socket.destroyed) {
        continue
      } else if (length === 0) {
        if (now - seen.since < limitMs) continue
        app.log.info({ bytesRead: read, quietMs: now - seen.since }, CLOSED_QUIET_AT_SHUTDOWN)
        socket.destroy()
      } else {
        // What waits may be one long write, taken in part by now without Node saying so; once
        // closing, shutdown does not wait for it (a ~7 MB answer would have 110 s more).
        const allowedMs = closing ? limitMs : limitMs + Math.ceil(length / minTakeRate * 1000)
        if (now - seen.since < allowedMs) continue
        markAnswerNotTaken(socket, allowedMs)
        socket.destroy()
      }
    }
  }
  const lookout = setInterval(look, Math.max(10, Math.min(1000, Math.floor(Math.min(timeoutMs, closingTimeoutMs) / 4))))
  lookout.unref()
  app.addHook('preClose', async () => {
    limitMs = Math.min(timeoutMs, closingTimeoutMs)
    closing = true
  })
  app.addHook('onClose', async () => { clearInterval(lookout) })
}, { name: 'answer-timeout', fastify: '5.x', dependencies: ['pipelining'] })
