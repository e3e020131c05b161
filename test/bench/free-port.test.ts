import t from 'tap'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { freePort } from '../../bench/lib/free-port.js'

t.test('a free port comes from below the ephemeral range, where no outgoing connection takes it', async (t) => {
  const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  const ports = new Set<number>()
  for (let i = 0; i < 20; i++) {
    const port = await freePort()
    t.ok(port >= 20_000 && port < ephemeralStart, `${port} is below ${ephemeralStart}`)
    ports.add(port)
  }
  t.ok(ports.size > 1, 'drawn at random, not one port each time')
  const port = await freePort()
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  t.pass('and it can be listened on')
  await new Promise((resolve) => server.close(resolve))
})
