import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js'

export const TOKEN = 'test-token'

interface Teardown { teardown (fn: () => unknown): void }

/** A simulator on a loopback port, closed when the test ends. */
export async function startTestSimulator (t: Teardown, options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = await startSimulator({ logger: false, ...options })
  t.teardown(() => simulator.close())
  return simulator
}

export interface Answer { status: number, contentType: string, text: string, json: any }

export interface SendOptions {
  path?: string
  /** send as application/x-www-form-urlencoded (the body's values must be strings or string arrays) */
  form?: boolean
  /** the Authorization header; null sends none */
  authorization?: string | null
  headers?: Record<string, string>
}

/** POSTs `body` to the simulator the way a client of the provider would. */
export async function send (simulator: Simulator, body: unknown, options: SendOptions = {}): Promise<Answer> {
  const { path = 'messages/send_sms', form = false, authorization = `Bearer ${TOKEN}` } = options
  const headers: Record<string, string> = {
    'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
    ...(authorization === null ? {} : { authorization }),
    ...options.headers
  }
  const payload = typeof body === 'string' ? body : form ? toForm(body as Record<string, string | string[]>) : JSON.stringify(body)
  return await fetchAnswer(new URL(path, simulator.url).href, { method: 'POST', headers, body: payload })
}

export async function fetchAnswer (url: string, init: { method: 'GET' | 'POST' | 'DELETE', headers?: Record<string, string>, body?: string }): Promise<Answer> {
  const response = await request(url, init)
  const text = await response.body.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.statusCode, contentType: String(response.headers['content-type']), text, json }
}

export function toForm (body: Record<string, string | string[]>): string {
  const form = new URLSearchParams()
  for (const [key, value] of Object.entries(body)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(Array.isArray(value) ? `${key}[]` : key, item)
  }
  return form.toString()
}

export interface PushedReport { method: string, path: string, query: URLSearchParams, contentType: string | undefined, body: string }

export interface Receiver {
  url: string
  reports: PushedReport[]
  /** the status the receiver answers with (default 200) */
  status: number
  waitFor (count: number): Promise<void>
}

/** A delivery-report endpoint on 127.0.0.1:0 that records what it is sent. */
export async function startReceiver (t: Teardown): Promise<Receiver> {
  const waiters: Array<() => void> = []
  const receiver: Receiver = {
    url: '',
    reports: [],
    status: 200,
    async waitFor (count) {
      while (receiver.reports.length < count) await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => { body += chunk })
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://receiver')
      receiver.reports.push({ method: request.method ?? '', path: url.pathname, query: url.searchParams, contentType: request.headers['content-type'], body })
      response.writeHead(receiver.status, { 'content-type': 'text/plain' }).end(receiver.status === 200 ? 'OK' : 'ERROR')
      for (const wake of waiters.splice(0)) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return receiver
}

/** Polls until `condition` holds, so tests do not bet on how fast a loaded machine is. */
export async function waitUntil (condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
