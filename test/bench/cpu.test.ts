import { Worker } from 'node:worker_threads'
import t from 'tap'
import { cpuMsOf, machineCpuOf, parseMachineCpu } from '../../bench/lib/cpu.js'

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
  // Time the host took from a core while this process had work there shows as steal, not busy.
  const busyOrStolen = machine.busyMs - machineBefore.busyMs + machine.stolenMs - machineBefore.stolenMs
  t.ok(busyOrStolen >= ownMs - TICK_SLACK_MS, `the machine was busy at least as long (${busyOrStolen.toFixed(0)} ms)`)
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

t.test('/proc/stat\'s first line: busy is user, nice, system, irq and softirq; steal apart; guest not again', async (t) => {
  //                         user nice system idle iowait irq softirq steal guest guest_nice
  const stat = 'cpu  1000 20 300 9000 400 5 60 7 100 2\ncpu0 500 10 150 4500 200 2 30 3 50 1\n'
  t.same(parseMachineCpu(stat), { busyMs: (1000 + 20 + 300 + 5 + 60) * 10, stolenMs: 70 })
})
