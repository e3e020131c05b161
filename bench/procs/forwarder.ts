import Fastify from 'fastify'
import { Agent, request } from 'undici'
import { readPort } from '../lib/child.js'

/**
 * The baseline of the send row: the least a gateway can do — take the caller's JSON, reshape it
 * into the provider's field names, forward it over a keep-alive pool and hand the answer back.
 * No validation, no auth, no logging, no metrics.
 */
interface Body { to: string | string[], text: string, sender?: string }

const upstreamUrl = new URL('messages/send_sms', process.env.BENCH_UPSTREAM_URL)
const headers = {
  'content-type': 'application/json',
  accept: 'application/json',
  authorization: `Bearer ${process.env.BENCH_UPSTREAM_TOKEN ?? ''}`
}
const agent = new Agent()
const app = Fastify({ logger: false })

app.post('/sms', async (req, reply) => {
  const { to, text, sender } = req.body as Body
  const upstream = await request(upstreamUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({ system: 'bench-forwarder', details: true, phone: typeof to === 'string' ? [to] : to, text, sender }),
    dispatcher: agent
  })
  return reply.code(upstream.statusCode).type('application/json; charset=utf-8').send(await upstream.body.text())
})
app.get('/readyz', async () => ({ status: 'ready' }))
await app.listen({ host: '127.0.0.1', port: readPort() })
