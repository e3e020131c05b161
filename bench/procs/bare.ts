import Fastify from 'fastify'
import { readPort } from '../lib/child.js'

/** The baseline of the ingest and start-up rows: fastify with its defaults and nothing else. */
const app = Fastify({ logger: false })
app.get('/dlr', async () => 'OK')
app.get('/readyz', async () => ({ status: 'ready' }))
await app.listen({ host: '127.0.0.1', port: readPort() })
