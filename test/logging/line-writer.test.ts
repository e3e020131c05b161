import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { LineWriter } from '../../src/line-writer.js'
import { NO_CHILD_COVERAGE } from '../servers.js'

/**
 * src/line-writer.ts: lines reach the descriptor whole and in order — batched per event-loop turn,
 * continued after partial writes, retried while a non-blocking pipe is full — and what is pending
 * when the process exits is written before it ends.
 */

const lineAt = (n: number) => `${JSON.stringify({ n, text: 'zażółć gęślą jaźń ' + 'x'.repeat(n % 500) })}\n`

t.test('lines written in a burst reach a file in order, and flush calls back once they have', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'line-writer-'))
  t.teardown(() => { rmSync(directory, { recursive: true, force: true }) })
  const file = join(directory, 'out.log')
  const fd = openSync(file, 'w')
  const writer = new LineWriter(fd)
  let expected = ''
  for (let n = 0; n < 5_000; n++) {
    writer.write(lineAt(n))
    expected += lineAt(n)
    // Some turns end mid-burst, so batches of several sizes are written.
    if (n % 997 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await new Promise<void>((resolve) => { writer.flush(resolve) })
  closeSync(fd)
  t.equal(readFileSync(file, 'utf8'), expected, 'the file holds every line, in order')

  let flushedWhenIdle = false
  writer.flush(() => { flushedWhenIdle = true })
  await Promise.resolve()
  t.ok(flushedWhenIdle, 'flush with nothing pending calls back at once')
})

/**
 * The write end of a real pipe in this process (libuv makes it non-blocking), read by `cat` into a
 * file; stopping `cat` with SIGSTOP lets the pipe fill, SIGCONT drains it.
 */
async function pipeToFile (t: Test) {
  const directory = mkdtempSync(join(tmpdir(), 'line-writer-'))
  const file = join(directory, 'out.log')
  const out = openSync(file, 'w')
  const cat = spawn('cat', [], { stdio: ['pipe', out, 'ignore'] })
  closeSync(out)
  const stdin = cat.stdin
  if (stdin === null) throw new Error('cat has no stdin pipe')
  await new Promise((resolve) => cat.on('spawn', resolve))
  t.teardown(async () => {
    cat.kill('SIGCONT')
    stdin.destroy()
    if (cat.exitCode === null) await new Promise((resolve) => cat.on('close', resolve))
    rmSync(directory, { recursive: true, force: true })
  })
  const fd = (stdin as unknown as { _handle: { fd: number } })._handle.fd
  return {
    fd,
    stop: () => cat.kill('SIGSTOP'),
    resume: () => cat.kill('SIGCONT'),
    contents: async () => {
      stdin.end()
      await new Promise((resolve) => cat.on('close', resolve))
      return readFileSync(file, 'utf8')
    }
  }
}

t.test('while the pipe is full, lines wait in order and go out once its reader is back', async (t) => {
  const pipe = await pipeToFile(t)
  pipe.stop()
  const writer = new LineWriter(pipe.fd)
  let expected = ''
  for (let n = 0; n < 8_000; n++) {
    writer.write(lineAt(n))
    expected += lineAt(n)
    if (n % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  let flushed = false
  writer.flush(() => { flushed = true })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(flushed, 'flush waits while the reader is stopped')
  pipe.resume()
  await new Promise<void>((resolve) => { writer.flush(resolve) })
  t.ok(flushed, 'and calls back once everything is out')
  t.ok(await pipe.contents() === expected, 'every line, whole and in order')
})

/**
 * A named pipe nobody reads until `startReading`, which runs `cat` on it into a file: the test
 * holds it open for reading and writing, so it opens without a reader and is never read meanwhile
 * (a stopped `cat` has often read ahead). Non-blocking, as libuv opens stdout.
 */
function unreadFifo (t: Test) {
  const directory = mkdtempSync(join(tmpdir(), 'line-writer-'))
  const fifo = join(directory, 'fifo')
  execFileSync('mkfifo', [fifo])
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK)
  let cat: ChildProcess | undefined
  t.teardown(async () => {
    cat?.kill()
    if (cat !== undefined && cat.exitCode === null) await once(cat, 'close')
    rmSync(directory, { recursive: true, force: true })
  })
  const file = join(directory, 'out.log')
  return {
    fd,
    startReading: () => { cat = spawn('cat', [fifo], { stdio: ['ignore', openSync(file, 'w'), 'ignore'] }) },
    contents: async () => {
      const closed = once(cat!, 'close')
      closeSync(fd)
      await closed
      return readFileSync(file, 'utf8')
    }
  }
}

/** The numbers of the lines in the text, each checked to be whole. */
const numbersOf = (text: string) => text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { n: number }).n)

t.test('a reader that takes nothing costs no more than the bound: lines beyond it are dropped, counted and told', async (t) => {
  const pipe = unreadFifo(t)
  const told: string[] = []
  const maxBacklogBytes = 64 * 1024
  const writer = new LineWriter(pipe.fd, {
    onBacklogFull: (bytes) => told.push(`full at ${bytes}`),
    onBacklogWritten: (dropped) => told.push(`${dropped} dropped`)
  }, maxBacklogBytes)
  // ~2 MB: more than the pipe (64 KiB) and the backlog hold together.
  const lines = 8_000
  for (let n = 0; n < lines; n++) {
    writer.write(lineAt(n))
    if (n % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  const dropped = writer.droppedLines
  t.ok(dropped > 0 && dropped < lines, `lines beyond the bound are dropped (${dropped} of ${lines})`)
  t.same(told, [`full at ${maxBacklogBytes}`], 'the first drop is told, once')

  pipe.startReading()
  await new Promise<void>((resolve) => { writer.flush(resolve) })
  t.same(told, [`full at ${maxBacklogBytes}`, `${dropped} dropped`], 'and how many, once the backlog is written out')
  writer.write(lineAt(lines))
  await new Promise<void>((resolve) => { writer.flush(resolve) })
  const numbers = numbersOf(await pipe.contents())
  t.equal(numbers.length + dropped, lines + 1, 'every line was written or counted')
  t.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!), 'those written are whole and in order')
  t.equal(numbers.at(-1), lines, 'and lines are taken again once it reads')
  t.equal(writer.droppedLines, dropped)
})

t.test('flushSync writes what waits, and gives up on a reader that takes nothing', async (t) => {
  const pipe = await pipeToFile(t)
  const failures: string[] = []
  const writer = new LineWriter(pipe.fd, { onFailure: (error) => failures.push(error.code ?? 'no code') })
  writer.write('one\n')
  writer.write('two\n')
  writer.flushSync()
  t.same(failures, [], 'written at once while the pipe has room')

  pipe.stop()
  for (let n = 0; n < 8_000; n++) writer.write(lineAt(n))
  writer.flushSync(200)
  t.same(failures, ['ETIMEDOUT'], 'after the limit, the rest is dropped and that is reported')
  writer.write('after\n')
  writer.flushSync()
  pipe.resume()
  const contents = await pipe.contents()
  t.ok(contents.startsWith('one\ntwo\n'), 'the first lines went out')
  t.notOk(contents.includes('after'), 'nothing is written after the failure')
})

t.test('a descriptor that fails for good drops lines from then on and reports it once', async (t) => {
  const failures: string[] = []
  const writer = new LineWriter(987_654, { onFailure: (error) => failures.push(error.code ?? 'no code') })
  writer.write('first\n')
  await new Promise<void>((resolve) => { writer.flush(resolve) })
  writer.write('second\n')
  await new Promise<void>((resolve) => { writer.flush(resolve) })
  writer.flushSync()
  t.same(failures, ['EBADF'], 'one report, naming the error')
  t.equal(writer.droppedLines, 1, 'the lines refused after the failure are counted')
})

/**
 * A child process writes its lines to stdout — a non-blocking pipe that the test does not read for
 * a while, so it fills: fs.writeSync throws EAGAIN or writes part of a batch. The child counts both,
 * through a wrapper around fs.writeSync, to show the test reached them.
 */
/** What the child writes to stderr the first time its stdout pipe is full. */
const PIPE_FULL = 'pipe-full'

const program = (lines: number, ending: 'flush' | 'exit', exitLimitMs?: number) => `
  import fs from 'node:fs'
  import { syncBuiltinESMExports } from 'node:module'
  const counts = { busy: 0, partial: 0, failure: null }
  // Told once, on stderr, so that the reader starts only once the pipe has been full.
  const full = () => { if (counts.busy + counts.partial === 1) process.stderr.write('${PIPE_FULL}\\n') }
  const writeSync = fs.writeSync
  fs.writeSync = (fd, data, ...rest) => {
    try {
      const written = writeSync(fd, data, ...rest)
      if (written < Buffer.byteLength(data)) { counts.partial++; full() }
      return written
    } catch (error) {
      if (error.code === 'EAGAIN') { counts.busy++; full() }
      throw error
    }
  }
  syncBuiltinESMExports()
  process.stdout // makes libuv open fd 1 as a non-blocking pipe, as in a container
  const { LineWriter } = await import('./src/line-writer.ts')
  const writer = new LineWriter(1, { onFailure: (error) => { counts.failure = error.code } })
  process.on('exit', () => { writer.flushSync(${exitLimitMs ?? ''}); process.stderr.write(JSON.stringify(counts)) })
  const lineAt = ${lineAt.toString()}
  for (let n = 0; n < ${lines}; n++) {
    writer.write(lineAt(n))
    if (n % 1000 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  ${ending === 'flush' ? 'writer.flush(() => process.exit(0))' : 'process.exit(0)'}
`

/**
 * Runs the program with its stdout read only once the child says the pipe was full (`once-full`),
 * or not until it has exited (`never`).
 */
async function runWithSlowReader (lines: number, ending: 'flush' | 'exit', reading: 'once-full' | 'never', exitLimitMs?: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program(lines, ending, exitLimitMs)], {
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const chunks: Buffer[] = []
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    if (reading === 'once-full' && stderr.includes(PIPE_FULL)) child.stdout.resume()
  })
  child.stdout.pause()
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  child.on('exit', () => { child.stdout.resume() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const counts = JSON.parse(stderr.slice(stderr.lastIndexOf('{'))) as { busy: number, partial: number, failure: string | null }
  return { code, stdout: Buffer.concat(chunks).toString('utf8'), stderr, counts }
}

for (const ending of ['flush', 'exit'] as const) {
  t.test(`a full non-blocking pipe loses no line and reorders none (${ending === 'flush' ? 'flushed, then exit' : 'exit at once'})`, async (t) => {
    const lines = 20_000
    // The exit waits for the reader as long as it takes here (10 s): the reader starts late on purpose.
    const { code, stdout, stderr, counts } = await runWithSlowReader(lines, ending, 'once-full', 10_000)
    t.equal(code, 0, stderr)
    t.equal(counts.failure, null, 'no failure reported')
    t.ok(counts.busy + counts.partial > 0, `the pipe was full at times (EAGAIN ${counts.busy}, partial writes ${counts.partial})`)
    let expected = ''
    for (let n = 0; n < lines; n++) expected += lineAt(n)
    t.equal(stdout.length, expected.length, 'as much text as was written')
    t.ok(stdout === expected, 'every line, whole and in order')
  })
}

t.test('a reader that takes nothing cannot keep the process from exiting', async (t) => {
  // Nothing is read until the child has exited: were it to wait for its reader, it never would.
  // The exit gives up on the pipe after 300 ms.
  const { code, counts } = await runWithSlowReader(20_000, 'exit', 'never', 300)
  t.equal(code, 0, 'the process ended without its reader')
  t.equal(counts.failure, 'ETIMEDOUT', 'the lines left are dropped, and that is reported')
})
