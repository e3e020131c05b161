import { writeSync } from 'node:fs'

/** How long to wait before trying again when the descriptor is full (a non-blocking pipe its reader has not emptied). */
export const RETRY_BUSY_MS = 10
/** How long the process's exit may wait for a full descriptor before the rest is dropped: a stuck reader must not keep it alive. */
export const EXIT_WAIT_LIMIT_MS = 2_000

type Chunk = string | Buffer

/**
 * Text lines to a file descriptor, in batches: the lines of one event-loop turn are kept as they
 * come and written together, with one system call, when the turn's I/O is done. A line costs an
 * array push — no Buffer per line, no thread-pool round trip per write, which is where pino's
 * sonic-boom destination spent its time (bench/README.md: −7% to −9% CPU per delivery report,
 * −11% to −24% per send).
 *
 * Writes are synchronous, and never block: stdout is a non-blocking pipe in a container (libuv
 * opens it so), and a full pipe answers at once with EAGAIN or a partial write. What it did not
 * take is kept, in order, and tried again after RETRY_BUSY_MS; lines written meanwhile wait behind
 * it. Nothing is ever in flight on another thread, so at exit `flushSync` knows exactly what is
 * left and writes it. As with pino's own destination nothing is dropped while the reader is merely
 * slow. When the descriptor fails for good (stdout closed), lines are dropped from then on and the
 * failure is given to `onFailure`, once.
 */
export class LineWriter {
  readonly #fd: number
  readonly #onFailure: (error: NodeJS.ErrnoException) => void
  #pending: string[] = []
  /** what the descriptor refused last time, to go before anything pending */
  #refused: Chunk | undefined
  /** the end of this turn's batch, when lines wait for it */
  #endOfTurn: NodeJS.Immediate | undefined
  /** the next try after the descriptor was full */
  #retry: NodeJS.Timeout | undefined
  #failed = false
  #waiting: Array<() => void> = []

  constructor (fd: number, onFailure: (error: NodeJS.ErrnoException) => void = () => {}) {
    this.#fd = fd
    this.#onFailure = onFailure
  }

  write (line: string): void {
    if (this.#failed) return
    this.#pending.push(line)
    if (this.#endOfTurn === undefined && this.#retry === undefined) this.#endOfTurn = setImmediate(this.#writeOut)
  }

  /** Calls back once everything written so far has reached the descriptor (or was dropped by a failure). */
  flush (callback: () => void): void {
    this.#waiting.push(callback)
    if (this.#endOfTurn === undefined && this.#retry === undefined) queueMicrotask(this.#writeOut)
  }

  /**
   * Writes what is left, now, waiting for a full descriptor to take it: for the process's exit,
   * when no timer will run again. Gives up after `limitMs`.
   */
  flushSync (limitMs = EXIT_WAIT_LIMIT_MS): void {
    this.#unschedule()
    const giveUpAt = Date.now() + limitMs
    for (let chunk = this.#next(); chunk !== undefined && !this.#failed; chunk = this.#next()) {
      const rest = this.#writeSome(chunk)
      if (rest === undefined) continue
      if (Date.now() >= giveUpAt) return this.#fail(Object.assign(new Error('the descriptor took nothing more before the exit'), { code: 'ETIMEDOUT' }))
      this.#refused = rest
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_BUSY_MS)
    }
    this.#release()
  }

  /** Writes until nothing is left or the descriptor is full; then tries again later. */
  readonly #writeOut = (): void => {
    this.#unschedule()
    for (let chunk = this.#next(); chunk !== undefined && !this.#failed; chunk = this.#next()) {
      const rest = this.#writeSome(chunk)
      if (rest !== undefined) {
        this.#refused = rest
        this.#retry = setTimeout(this.#writeOut, RETRY_BUSY_MS)
        return
      }
    }
    this.#release()
  }

  #unschedule (): void {
    clearImmediate(this.#endOfTurn)
    clearTimeout(this.#retry)
    this.#endOfTurn = undefined
    this.#retry = undefined
  }

  /** What to write next: the refused rest first, else every pending line as one string. */
  #next (): Chunk | undefined {
    const refused = this.#refused
    if (refused !== undefined) {
      this.#refused = undefined
      return refused
    }
    if (this.#pending.length === 0) return undefined
    const text = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('')
    this.#pending = []
    return text
  }

  /** Writes the chunk; answers what the descriptor did not take, or undefined when it took all (or failed). */
  #writeSome (chunk: Chunk): Chunk | undefined {
    let written: number
    try {
      written = typeof chunk === 'string' ? writeSync(this.#fd, chunk) : writeSync(this.#fd, chunk)
    } catch (error) {
      if (isBusy(error)) return chunk
      this.#fail(error as NodeJS.ErrnoException)
      return undefined
    }
    if (typeof chunk !== 'string') return written >= chunk.length ? undefined : chunk.subarray(written)
    return written >= Buffer.byteLength(chunk) ? undefined : Buffer.from(chunk).subarray(written)
  }

  #release (): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const callback of waiting) callback()
  }

  #fail (error: NodeJS.ErrnoException): void {
    if (this.#failed) return
    this.#failed = true
    this.#pending = []
    this.#refused = undefined
    this.#onFailure(error)
    this.#release()
  }
}

function isBusy (error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'EAGAIN' || code === 'EBUSY'
}
