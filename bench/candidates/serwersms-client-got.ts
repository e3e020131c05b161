import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import got, { RequestError, TimeoutError, type Got } from 'got'
import type { SerwerSmsClient, SerwerSmsClientOptions } from '../../src/serwersms/client.js'
import { readSendSmsResponse, SEND_SMS_PATH, type SendSmsOutcome } from '../../src/serwersms/send-sms.js'

/**
 * The gateway's first SerwerSMS client, on got, kept so that row 6 of the benchmark can show
 * got against undici (the client in src/) in the same run: the figures chose undici.
 */
const DEFAULT_MAX_SOCKETS = 256
/** Shorter than common server idle timeouts, so a pooled socket is not reused as the server closes it. */
const FREE_SOCKET_TIMEOUT_MS = 4000

export function createSerwerSmsClient (options: SerwerSmsClientOptions): SerwerSmsClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS, timeout: FREE_SOCKET_TIMEOUT_MS }
  const agent = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) }
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.auth.kind === 'token') headers.authorization = `Bearer ${options.auth.token}`
  const credentials = options.auth.kind === 'user' ? { username: options.auth.username, password: options.auth.password } : {}

  const http: Got = got.extend({
    prefixUrl: options.apiUrl,
    headers,
    agent,
    timeout: { request: options.timeoutMs },
    // A retried POST can send every SMS in it twice.
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text'
  })

  return {
    async sendSms (fields) {
      try {
        const response = await http.post(SEND_SMS_PATH, { json: { ...fields, ...credentials } })
        return readSendSmsResponse(response.statusCode, response.body)
      } catch (error) {
        return describeFailure(error)
      }
    },
    async close () {
      agent.http.destroy()
      agent.https.destroy()
    }
  }
}

function describeFailure (error: unknown): SendSmsOutcome {
  if (!(error instanceof RequestError)) throw error
  const requestSent = error.timings?.upload !== undefined
  if (error instanceof TimeoutError) {
    return { outcome: 'timeout', requestSent, detail: `no answer within the timeout (${error.event})` }
  }
  return { outcome: 'network', requestSent, detail: error.code }
}
