import { Agent, request } from 'undici'
import { readJsonEnv, reportToParent } from '../lib/child.js'
import { bulkRecipients } from '../lib/recipients.js'

/**
 * The ideal the bulk row is held against, measured in the same run: the same batches sent
 * straight to the simulator by the plainest client — build the JSON, post it, read the answer —
 * `concurrency` at a time, with nothing in between.
 */
export interface DirectBulkSpec { upstreamUrl: string, token: string, recipients: number, batchSize: number, concurrency: number, text: string }
export interface DirectBulkResult { ms: number, requests: number, queued: number }

const spec = readJsonEnv<DirectBulkSpec>('BENCH_DIRECT_BULK')
const phones = bulkRecipients(spec.recipients)
const url = new URL('messages/send_sms', spec.upstreamUrl)
const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${spec.token}` }
const dispatcher = new Agent()
let next = 0
let requests = 0
let queued = 0

async function lane (): Promise<void> {
  while (next < phones.length) {
    const phone = phones.slice(next, next + spec.batchSize)
    next += spec.batchSize
    requests++
    const response = await request(url, { method: 'POST', headers, dispatcher, body: JSON.stringify({ system: 'bench-direct', details: true, text: spec.text, phone }) })
    const answer = await response.body.json() as { queued?: number }
    queued += answer.queued ?? 0
  }
}

const started = performance.now()
await Promise.all(Array.from({ length: spec.concurrency }, lane))
const ms = performance.now() - started
await dispatcher.close()
reportToParent<DirectBulkResult>({ ms, requests, queued }, { last: true })
