import { writeSync } from 'node:fs'

/** How long to wait before trying again when the descriptor is full (a non-blocking pipe its reader has not emptied). */
export const RETRY_BUSY_MS = 10
/** How long the process's exit may wait for a full descriptor before the rest is dropped: a stuck reader must not keep it alive. */
export const EXIT_WAIT_LIMIT_MS = 2_000
/**
 * How much text may wait for a descriptor that takes none before lines are dropped: ~6 s of the
 * gateway's busiest logging (8,400 delivery reports a second of ~300-byte lines, bench/README.md),
 * minutes at ordinary rates, so a reader that pauses loses nothing; a reader that stopped costs at
 * most this much memory (twice it while a partial write is held), not all of it.
 */
export const MAX_BACKLOG_BYTES = 16 * 1024 * 1024

type Chunk = string | Buffer

/** What a LineWriter tells about itself; each is called on its own occasion only. */
export interface LineWriterEvents {
  /** the descriptor failed for good: no line is written from now on */
  onFailure?: (error: NodeJS.ErrnoException) => void
  /** a line was dropped, the first since the backlog was last written out */
  onBacklogFull?: (maxBacklogBytes: number) => void
  /** the backlog was written out after lines were dropped; how many were */
  onBacklogWritten?: (droppedLines: number) => void
}

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
 * left and writes it. Nothing is dropped while the reader is merely slow; a line that would take
 * the backlog past `maxBacklogBytes` is dropped and counted, as with sonic-boom's `maxLength`
 * (which measures string length too: log lines are JSON, nearly all ASCII, and a UTF-8 byte count
 * would cost every line a scan). The first drop is told, and the count once the backlog is written
 * out. When the descriptor fails for good (stdout closed), lines are dropped from then on and the
 * failure is told, once.
 */
export class LineWriter {
  readonly #fd: number
  readonly #events: LineWriterEvents
  readonly #maxBacklogBytes: number
  #pending: string[] = []
  #pendingLength = 0
  /** lines dropped since the backlog was last written out */
  #droppedSinceFull = 0
  #droppedLines = 0
  /** what the descriptor refused last time, to go before anything pending */
  #refused: Chunk | undefined
  /** the end of this turn's batch, when lines wait for it */
  #endOfTurn: NodeJS.Immediate | undefined
  /** the next try after the descriptor was full */
  #retry: NodeJS.Timeout | undefined
  #failed = false
  #waiting: Array<() => void> = []

  constructor (fd: number, events: LineWriterEvents = {}, maxBacklogBytes = MAX_BACKLOG_BYTES) {
    this.#fd = fd
    this.#events = events
    this.#maxBacklogBytes = maxBacklogBytes
  }

  /** Lines refused by `write`: beyond the backlog's bound, or after the descriptor failed (not those lost with the failing write). */
  get droppedLines (): number {
    return this.#droppedLines
  }

  write (line: string): void {
    if (this.#failed) {
      this.#droppedLines++
      return
    }
    if (this.#pendingLength + line.length + (this.#refused?.length ?? 0) > this.#maxBacklogBytes) return this.#drop()
    this.#pending.push(line)
    this.#pendingLength += line.length
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
    this.#writtenOut()
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
    this.#writtenOut()
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
    this.#pendingLength = 0
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

  #drop (): void {
    this.#droppedLines++
    if (this.#droppedSinceFull++ === 0) this.#events.onBacklogFull?.(this.#maxBacklogBytes)
  }

  /** Everything written so far has reached the descriptor. */
  #writtenOut (): void {
    const dropped = this.#droppedSinceFull
    this.#droppedSinceFull = 0
    if (dropped > 0) this.#events.onBacklogWritten?.(dropped)
    this.#release()
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
    this.#pendingLength = 0
    this.#refused = undefined
    this.#events.onFailure?.(error)
    this.#release()
  }
}

function isBusy (error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'EAGAIN' || code === 'EBUSY'
}
