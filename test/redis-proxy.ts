import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Test } from 'tap'

/**
 * What becomes of Redis's answer to the intercepted command: dropped with the connection, held
 * back, or held until the sender's next command, which cuts the connection before reaching Redis;
 * or of the command itself: 'late', held on its way while the sender's side of the connection is
 * cut, for deliverLate to pass on (on its own connection to Redis, which stays open) after.
 */
export type AnswerTreatment = 'drop' | { delayMs: number } | 'cut-at-next-command' | 'late'

/**
 * A TCP proxy in front of Redis that, once armed with a key, passes on the next command naming it
 * and then treats Redis's answer as told: drops the connection instead of passing it back (the
 * command was carried out, and its sender never learns so), holds it — and what follows, so
 * that their order holds — back for a while, or holds it until the sender writes again and then
 * drops the connection with that write (a command sent behind the first one never arrives).
 * Connections made afterwards pass everything.
 */
export async function startRedisProxy (t: Test, redisPort: number) {
  let armed: { key: string, treatment: AnswerTreatment } | undefined
  let intercepted = 0
  let dropped = 0
  let cut = 0
  let late: { command: Buffer, upstream: Socket } | undefined
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let dropNextAnswer = false
    let held: Buffer[] | undefined
    let cutAtNextCommand = false
    client.on('data', (chunk) => {
      if (cutAtNextCommand) {
        cut++
        client.destroy()
        upstream.destroy()
        return
      }
      if (armed !== undefined && chunk.includes(armed.key)) {
        const { treatment } = armed
        armed = undefined
        intercepted++
        if (treatment === 'late') {
          late = { command: chunk, upstream }
          client.destroy()
          return
        }
        if (treatment === 'drop') dropNextAnswer = true
        else if (treatment === 'cut-at-next-command') {
          held = []
          cutAtNextCommand = true
        } else {
          held = []
          setTimeout(() => {
            for (const answer of held!) client.write(answer)
            held = undefined
          }, treatment.delayMs)
        }
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (dropNextAnswer) {
        dropped++
        client.destroy()
        upstream.destroy()
      } else if (held !== undefined) held.push(chunk)
      else client.write(chunk)
    })
    const close = () => {
      client.destroy()
      sockets.delete(client)
      if (late?.upstream === upstream) return
      upstream.destroy()
      sockets.delete(upstream)
    }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    interceptAnswerTo: (key: string, treatment: AnswerTreatment) => { armed = { key, treatment } },
    /** commands whose answer was intercepted so far */
    intercepted: () => intercepted,
    /** answers dropped so far */
    dropped: () => dropped,
    /** connections cut at a command sent behind an intercepted one */
    cut: () => cut,
    /** Passes the command held 'late' on to Redis, at last; Redis's answer, which nobody else reads. */
    deliverLate: async (): Promise<string> => {
      if (late === undefined) throw new Error('no command held late')
      const { command, upstream } = late
      late = undefined
      upstream.write(command)
      const [answer] = await once(upstream, 'data') as [Buffer]
      upstream.destroy()
      return answer.toString('latin1')
    }
  }
}
