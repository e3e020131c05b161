import { Worker } from 'node:worker_threads'
import t from 'tap'
import { cpuMsOf, machineCpuOf } from '../../bench/lib/processes.js'

/** /proc/stat and /proc/<pid>/stat count in ticks of 10 ms, per core. */
const TICK_SLACK_MS = 40
const SPIN_MS = 300

function spin (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until);
}

t.test('the machine\'s busy time holds this process\'s own CPU time, with both cores kept busy', async (t) => {
  // A second thread spins beside the main one, so an idle field read as busy would show near nothing.
  const worker = new Worker(`const until = Date.now() + ${SPIN_MS}; while (Date.now() < until);`, { eval: true })
  const machineBefore = await machineCpuOf()
  const ownBefore = process.cpuUsage()
  spin(SPIN_MS)
  await new Promise((resolve) => worker.once('exit', resolve))
  const own = process.cpuUsage(ownBefore)
  const machine = await machineCpuOf()
  const ownMs = (own.user + own.system) / 1000
  t.ok(ownMs >= SPIN_MS * 0.5, `this process spun (${ownMs.toFixed(0)} ms)`)
  t.ok(machine.busyMs - machineBefore.busyMs >= ownMs - TICK_SLACK_MS,
    `the machine was busy at least as long (${(machine.busyMs - machineBefore.busyMs).toFixed(0)} ms)`)
  t.ok(machine.stolenMs >= machineBefore.stolenMs, 'steal only grows')
})

t.test('a process\'s CPU time, from /proc/<pid>/stat, grows by what it spent', async (t) => {
  const before = await cpuMsOf(process.pid)
  const ownBefore = process.cpuUsage()
  spin(SPIN_MS)
  const own = process.cpuUsage(ownBefore)
  const grown = await cpuMsOf(process.pid) - before
  t.ok(Math.abs(grown - (own.user + own.system) / 1000) <= TICK_SLACK_MS, `${grown} ms`)
})
