import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Answer, Question, Ready } from './child.js'
import { track } from './processes.js'

/** The runner's side of the conversation with a benchmark process, over Node's IPC channel. */
export interface ForkedProcess<T> {
  child: ChildProcess
  ready: T
  ask<R> (command: string): Promise<R>
  /** cuts the IPC channel (the process exits on it), then kills it if it has not exited within `graceMs` */
  stop (graceMs?: number): Promise<void>
}

const STOP_GRACE_MS = 3000

/** Starts a compiled benchmark process and waits for the first message it sends. */
export async function forkProcess<T> (modulePath: string, env: Record<string, string>, execArgv: string[] = []): Promise<ForkedProcess<T>> {
  const child = track(fork(modulePath, [], {
    env: { PATH: process.env.PATH ?? '', ...env },
    execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc']
  }))
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  let nextId = 0
  const pending = new Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>()
  const ready = await new Promise<T>((resolve, reject) => {
    child.on('message', (message: Ready<T> | Answer) => {
      if ('ready' in message) {
        resolve(message.ready)
        return
      }
      const waiter = pending.get(message.id)
      pending.delete(message.id)
      if ('error' in message) waiter?.reject(new Error(message.error))
      else waiter?.resolve(message.result)
    })
    child.once('exit', (code, signal) => {
      const error = new Error(`${modulePath} exited (${code ?? signal}) ${stderr}`)
      reject(error)
      for (const waiter of pending.values()) waiter.reject(error)
    })
  })
  return {
    child,
    ready,
    ask: async <R>(command: string) => new Promise<R>((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      child.send({ id, command } satisfies Question)
    }),
    stop: async (graceMs = STOP_GRACE_MS) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      if (child.connected) child.disconnect()
      else child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    }
  }
}
