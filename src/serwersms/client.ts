import type { Dispatcher } from 'undici'
import Agent from 'undici/lib/dispatcher/agent.js'
import type { UpstreamAuth } from '../config.js'
import { readSendSmsResponse, SEND_SMS_PATH, type SendSmsOutcome, type SendSmsRequest } from './send-sms.js'

/**
 * The SerwerSMS client, on undici. It replaced got after the send-path profile measured the whole
 * gateway with got at 2.6× its CPU per send with undici (bench/README.md, "Profile of the send
 * path"; row 6 repeats the comparison in every run); the contract is the same: a keep-alive pool,
 * one deadline for the whole exchange, no retries, no throwing.
 */
export interface SerwerSmsClientOptions {
  apiUrl: string
  auth: UpstreamAuth
  timeoutMs: number
  /** sockets per origin; requests beyond them wait for one, within their deadline */
  maxSockets?: number
}

export type SendSmsFields = Omit<SendSmsRequest, 'username' | 'password'>

export interface SerwerSmsClient {
  sendSms (fields: SendSmsFields): Promise<SendSmsOutcome>
  /** waits for the requests under way (each within its deadline), then closes the sockets */
  close (): Promise<void>
}

const DEFAULT_MAX_SOCKETS = 256
/** Shorter than common server idle timeouts, so a pooled socket is not reused as the server closes it. */
const KEEP_ALIVE_TIMEOUT_MS = 4000
const MAX_CONNECT_TIMEOUT_MS = 10_000

class DeadlineError extends Error {
  override name = 'DeadlineError'
}

/**
 * The largest answer read. The seed's items repeat the message's text, so a batch of 200
 * recipients (the most SMS_BATCH_SIZE allows) of a 5,000-character text is answered in 1 MB, and
 * in 6 MB if the provider writes each character beyond ASCII as a \uXXXX escape, as PHP's JSON
 * does by default. A larger one is no send_sms answer, and reading it whole would hold it twice.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024

class AnswerTooLargeError extends Error {
  override name = 'AnswerTooLargeError'
  constructor (readonly statusCode: number) {
    super(`an answer of more than ${MAX_ANSWER_BYTES} bytes`)
  }
}

interface Exchange { statusCode: number, body: string }

class ExchangeFailure extends Error {
  override name = 'ExchangeFailure'
  constructor (readonly error: Error, readonly requestSent: boolean) {
    super(error.message)
  }
}

export function createSerwerSmsClient (options: SerwerSmsClientOptions): SerwerSmsClient {
  // Read once: URL's getters build a new string on every read.
  const url = new URL(SEND_SMS_PATH, options.apiUrl)
  const origin = url.origin
  const path = url.pathname + url.search
  const dispatcher = new Agent({
    connections: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connect: { timeout: Math.min(options.timeoutMs, MAX_CONNECT_TIMEOUT_MS) },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs
  })
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' }
  if (options.auth.kind === 'token') headers.authorization = `Bearer ${options.auth.token}`
  const credentials = options.auth.kind === 'user' ? { username: options.auth.username, password: options.auth.password } : undefined
  // Taken out of any text of the provider's the gateway passes on.
  const secrets = credentialSpellings(options.auth.kind === 'user' ? options.auth.password : options.auth.token)

  return {
    async sendSms (fields) {
      const body = JSON.stringify(credentials === undefined ? fields : { ...fields, ...credentials })
      try {
        const answer = await exchange(dispatcher, { origin, path, method: 'POST', headers, body }, options.timeoutMs)
        return readSendSmsResponse(answer.statusCode, answer.body, secrets)
      } catch (failure) {
        return describeFailure(failure as ExchangeFailure)
      }
    },
    // Gracefully: a send still at the provider when the gateway closes (its caller may have hung
    // up, so no connection holds the close back) gets its answer, within its own deadline.
    async close () {
      await dispatcher.close()
    }
  }
}

/**
 * One POST with a deadline, telling apart a failure before the request was fully written (the
 * provider cannot have acted on it) from one after (it may have).
 *
 * The deadline holds while the request still waits for a socket, too (more requests in flight than
 * the pool has sockets): it then fails as never sent, at once, and undici's hand-over of a
 * connection cancels it before a byte is written.
 */
function exchange (dispatcher: Dispatcher, request: Dispatcher.DispatchOptions, deadlineMs: number): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let requestSent = false
    let statusCode = 0
    let abort: ((error: Error) => void) | undefined
    let expired = false
    let received = 0
    const chunks: Buffer[] = []
    const deadline = setTimeout(() => {
      const error = new DeadlineError(`no answer within ${deadlineMs} ms`)
      expired = true
      if (abort === undefined) fail(error)
      else abort(error)
    }, deadlineMs)
    const fail = (error: Error) => {
      clearTimeout(deadline)
      reject(new ExchangeFailure(error, requestSent))
    }
    // undici's callback interface: the only one that reports when the request has left.
    dispatcher.dispatch(request, {
      onConnect (abortRequest: (error?: Error) => void) {
        abort = abortRequest
        // undici calls this just before writing the request: past the deadline, it must not go.
        if (expired) abortRequest(new DeadlineError(`no socket within ${deadlineMs} ms`))
      },
      onRequestSent () { requestSent = true },
      onHeaders (status: number) {
        statusCode = status
        return true
      },
      onData (chunk: Buffer) {
        received += chunk.length
        if (received > MAX_ANSWER_BYTES) {
          abort!(new AnswerTooLargeError(statusCode))
          return false
        }
        chunks.push(chunk)
        return true
      },
      onComplete () {
        clearTimeout(deadline)
        // An answer of one recipient's batch comes in one chunk: no copy to join it.
        resolve({ statusCode, body: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8') })
      },
      onError: fail
    } as Dispatcher.DispatchHandler)
  })
}

/** A request not fully written cannot have been acted on; one that was, may have been. */
function describeFailure ({ error, requestSent }: ExchangeFailure): SendSmsOutcome {
  // An answer came, so the request was taken: the recipients may have been sent.
  if (error instanceof AnswerTooLargeError) return { outcome: 'bad_response', statusCode: error.statusCode, detail: `${error.message} (HTTP ${error.statusCode})` }
  const code = (error as NodeJS.ErrnoException).code
  if (error instanceof DeadlineError || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { outcome: 'timeout', requestSent, detail: 'no answer within the timeout' }
  }
  return { outcome: 'network', requestSent, detail: code ?? error.name }
}

/** Credentials shorter than this are not looked for: taking out every "a" would leave nothing readable. */
const MIN_CREDENTIAL_LENGTH = 4

/**
 * The ways a provider's text may quote a credential it was sent: as sent, URL-encoded (as
 * JavaScript, as a form or PHP's urlencode does, hex in either case) and JSON-escaped (PHP's own
 * escapes "/" too). Longest first, so a spelling that holds another is taken out whole.
 */
export function credentialSpellings (credential: string): string[] {
  if (credential.length < MIN_CREDENTIAL_LENGTH) return []
  const component = encodeURIComponent(credential)
  const form = new URLSearchParams({ c: credential }).toString().slice(2)
  const php = form.replace(/[!'()~*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
  const json = JSON.stringify(credential).slice(1, -1)
  const spellings = new Set([credential, json, json.replaceAll('/', '\\/')])
  for (const encoded of [component, form, php]) {
    spellings.add(encoded)
    spellings.add(encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()))
  }
  return [...spellings].sort((a, b) => b.length - a.length)
}
