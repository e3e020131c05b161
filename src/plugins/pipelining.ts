import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { shownPath } from '../url-path.js'
import { logCallerLeft } from './request-log.js'

/**
 * Requests one connection may have waiting for their answers (HTTP/1.1 pipelining). Node reads a
 * whole 64 KiB chunk of a connection before it pauses it, and routes every request in it: a client
 * that wrote a thousand `GET /docs/json` and read nothing had a thousand 50 KB answers held for
 * it, and a few such connections took the gateway past its heap. Clients that pipeline at all keep
 * a handful in flight.
 */
export const MAX_UNANSWERED_PER_CONNECTION = 16

const kConnection = Symbol('pipelining state')
interface ConnectionState {
  /** answers not yet written whole, in the order of their requests */
  unanswered: FastifyReply[]
  /** true once the connection was cut for pipelining too deep */
  cut: boolean
}
type TrackedSocket = Socket & { [kConnection]?: ConnectionState }

/**
 * Whether a request on this connection has come whole and is not answered yet: its handler may
 * be running (a send at SerwerSMS). True for a connection this plugin does not know, so that
 * nothing is taken for idle that might not be.
 */
export function hasRequestInHand (socket: Socket): boolean {
  const state = (socket as TrackedSocket)[kConnection]
  return state === undefined || state.unanswered.some((reply) => reply.request.raw.complete)
}

/**
 * Bounds pipelining, and ends the answers a connection still has queued when it closes. Node emits
 * nothing on an answer queued behind another when their connection goes: a file streamed into one
 * (a Swagger UI asset) kept its descriptor open for good, so a client that pipelined a few hundred
 * such requests and hung up could use up the process's open files, and every caller's connection
 * was refused after.
 */
export default fp(async function pipeliningPlugin (app) {
  app.server.on('connection', (socket: TrackedSocket) => {
    const state: ConnectionState = { unanswered: [], cut: false }
    socket[kConnection] = state
    // After Node's own listeners (added when the connection came), which close the answer being
    // written; the ones queued behind it are closed here, so that what feeds them is let go.
    socket.once('close', () => {
      for (const reply of state.unanswered) {
        const response = reply.raw
        if (response.destroyed) continue
        // An answer made but queued would have had its line once Node finished writing it, which it
        // never will: it gets the line of a caller who left. One not yet made gets it when it is.
        const madeUnwritten = response.writableEnded && !response.writableFinished
        response.destroy()
        response.emit('close')
        if (madeUnwritten) logCallerLeft(reply.request, reply)
      }
    })
  })

  // Callback hooks: they run on every request.
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket as TrackedSocket
    const state = socket[kConnection]
    // A request not from this server's own connections (fastify's inject) is not pipelined.
    if (state === undefined) return done()
    if (state.cut || state.unanswered.length >= MAX_UNANSWERED_PER_CONNECTION) {
      if (!state.cut) {
        state.cut = true
        request.log.warn({ method: request.method, path: shownPath(request.url) }, `connection closed: more than ${MAX_UNANSWERED_PER_CONNECTION} requests on it were waiting for their answers (HTTP pipelining)`)
        socket.destroy()
      }
      // Nothing more is routed or answered for it (the rest of what it sent is parsed already).
      reply.hijack()
      return done()
    }
    state.unanswered.push(reply)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const unanswered = (request.raw.socket as TrackedSocket)[kConnection]?.unanswered
    if (unanswered !== undefined) {
      // In order, as HTTP/1.1 answers are: the first one, unless a connection was cut meanwhile.
      const at = unanswered[0] === reply ? 0 : unanswered.indexOf(reply)
      if (at !== -1) unanswered.splice(at, 1)
    }
    done()
  })
  // An answer made after its connection went (a file opened for a queued request once the
  // connection was cut) is never written, and nothing would close what feeds it.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (request.raw.socket?.destroyed === true && payload instanceof Readable) {
      payload.destroy()
      return done(null, null)
    }
    done(null, payload)
  })
}, { name: 'pipelining', fastify: '5.x' })
