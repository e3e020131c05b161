/** A benchmark process's side of the conversation with the runner (bench/lib/ipc.ts is the runner's). */
export type Handlers = Record<string, () => unknown>

export interface Question { id: number, command: string }
export type Answer = { id: number, result: unknown } | { id: number, error: string }
export interface Ready<T> { ready: T }

export function readJsonEnv<T> (name: string): T {
  const text = process.env[name]
  if (text === undefined) throw new Error(`${name} is not set: this process is started by bench/run.ts`)
  return JSON.parse(text) as T
}

export function reportToParent<T> (ready: T, { last = false } = {}): void {
  if (process.send === undefined) throw new Error('no IPC channel: this process is started by bench/run.ts')
  // A process with nothing more to say lets go of the channel, so it can exit on its own.
  process.send({ ready } satisfies Ready<T>, undefined, {}, last ? () => process.disconnect() : undefined)
}

export function whenParentAsks (handlers: Handlers): void {
  process.on('message', (message: Question) => {
    const handler = handlers[message.command]
    if (handler === undefined) {
      process.send?.({ id: message.id, error: `unknown command ${message.command}` } satisfies Answer)
      return
    }
    Promise.resolve()
      .then(handler)
      .then((result) => process.send?.({ id: message.id, result } satisfies Answer))
      .catch((error: unknown) => process.send?.({ id: message.id, error: String(error) } satisfies Answer))
  })
  // The runner going away ends the process, so a crashed benchmark leaves nothing behind.
  process.on('disconnect', () => process.exit(0))
}

/** The port a plain HTTP benchmark server listens on, chosen by the runner. */
export function readPort (): number {
  const port = Number(process.env.BENCH_PORT)
  if (!Number.isInteger(port) || port <= 0) throw new Error('BENCH_PORT is not set: this process is started by bench/run.ts')
  return port
}
