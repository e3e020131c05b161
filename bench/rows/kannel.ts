import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { WORK_DIR } from '../lib/build.js'
import { runLoad, sendBody, sendHeaders, startForwarder, startGateway, startSimulatorProcess, UPSTREAM_USER, type SimulatorProcess } from '../lib/cast.js'
import { cpuMsOf, machineCpuOf, type MachineCpu } from '../lib/cpu.js'
import { warmUp } from '../lib/interleave.js'
import { combine } from '../lib/measured.js'
import { alternation, warmupSecondsFor } from '../lib/rounds.js'
import { findKannel, KANNEL_USER, startKannel, type KannelStatus } from '../lib/kannel.js'
import { ceilingNote, forwarderNote, MIN_KANNEL_RATIO } from '../lib/kannel-notes.js'
import { atLeast, skippedRow, type Row } from '../lib/report.js'
import type { ServerProcess } from '../lib/processes.js'
import type { BenchSettings } from '../lib/settings.js'
import type { LoadResult } from '../procs/load.js'

const SENDER = 'BENCH'
const PHONE = '48500600700'
const TEXT = 'Benchmark message'
const DRAIN_POLL_MS = 20
/** A queue that has not drained by then is reported as it stands, so a run stays bounded. */
const MIN_DRAIN_LIMIT_S = 30

/**
 * How long one stretch a side runs, about. Longer than the other rows' 1-s stretches: each Kannel
 * stretch is followed by its queue draining, and a short one would be mostly that.
 */
const STRETCH_SECONDS = 2.5

/** Stretches per side: an even number (each A B pair is followed by B A), two at least. */
function stretchesFor (seconds: number): number {
  return Math.max(2, 2 * Math.floor(seconds / (2 * STRETCH_SECONDS)))
}

/**
 * Seconds of one stretch, whole: autocannon ends a run, and refills a fixed rate's budget, on a
 * one-second tick, so a run asked for 2.5 s lasts 3 and a fixed rate is only kept over whole
 * seconds. Said here rather than left to autocannon: 5 s a side are two stretches of 3 s.
 */
function stretchSecondsFor (seconds: number, stretches: number): number {
  return Math.max(1, Math.ceil(seconds / stretches))
}

const title = (settings: BenchSettings) =>
  `5. Kannel — messages delivered to the simulator per second, end to end (${settings.connections} connections, Kannel drained)`
const header = { id: 'kannel' as const, subject: 'gateway (synchronous)', baseline: 'Kannel 1.4.5 (queued)' }

/**
 * The peer a user would pick instead. Kannel answers before it forwards, so both are measured
 * at the simulator: messages it queued per second, for Kannel until its queue has drained. The
 * sides take turns in stretches, gateway forwarder Kannel Kannel forwarder gateway…, as the other
 * rows' sides do, so a drift of the machine weighs on all alike; each Kannel stretch lasts until
 * its queue is empty. Row 1's minimal forwarder runs in the gateway's place in its own turns: the
 * least a synchronous gateway on one Node thread does, measured against Kannel in the same run.
 */
export async function measureAgainstKannel (settings: BenchSettings): Promise<Row> {
  const missing = await findKannel()
  if (missing !== undefined) return skippedRow({ ...header, title: title(settings) }, missing)

  const { simulator, standIn } = await startUpstreamForKannel()
  const gateway = await startGateway(settings, simulator.url)
  const forwarder = await startForwarder(simulator.url)
  try {
    const synchronousRequest = (server: ServerProcess) => ({
      url: server.url,
      method: 'POST' as const,
      path: '/sms',
      headers: sendHeaders,
      body: sendBody(`+${PHONE}`, { sender: SENDER }),
      connections: settings.connections,
      expectInBody: '"id":"'
    })
    const gatewayRequest = synchronousRequest(gateway)
    const forwarderRequest = synchronousRequest(forwarder)
    const kannel = await startKannel({
      directory: join(WORK_DIR, 'kannel'),
      upstreamUrl: simulator.url,
      upstreamUser: UPSTREAM_USER,
      maxPendingSubmits: settings.connections,
      successRegex: '"success":true'
    })
    try {
      const query = new URLSearchParams({ ...KANNEL_USER, to: PHONE, from: SENDER, text: TEXT })
      const kannelRequest = { url: kannel.sendsmsUrl, method: 'GET' as const, path: `/cgi-bin/sendsms?${query.toString()}`, connections: settings.connections }
      // Kannel's queue takes longer to drain than to fill: half the time keeps the row bounded.
      const loadSeconds = settings.seconds / 2
      const stretches = stretchesFor(loadSeconds)
      const stretch = stretchSecondsFor(loadSeconds, stretches)
      const drainLimitS = Math.max(MIN_DRAIN_LIMIT_S, settings.seconds * 4)
      await warmUp(gatewayRequest, warmupSecondsFor(settings.seconds))
      await warmUp(forwarderRequest, warmupSecondsFor(settings.seconds))

      const synchronous = { gateway: { server: gateway, request: gatewayRequest }, forwarder: { server: forwarder, request: forwarderRequest } }
      const ofSynchronous: Record<SynchronousSide, { loads: LoadResult[], delivered: number }> = {
        gateway: { loads: [], delivered: 0 },
        forwarder: { loads: [], delivered: 0 }
      }
      const ofKannel: KannelStretch[] = []
      // CPU time each side's server, the simulator and the load generator used over its stretches,
      // and the machine's as a whole from each load's start until its last delivery (the load
      // process's own start and the runner's reads of the counters left out).
      const cpu = { gateway: emptyCpu(), forwarder: emptyCpu(), kannel: emptyCpu() }
      const simulatorCpuMs = async () => cpuMsOf(simulator.child.pid!)
      for (const side of alternation<Side>(['gateway', 'forwarder', 'kannel'], stretches)) {
        const server = side === 'kannel' ? kannel : synchronous[side].server
        const before = { queued: (await simulator.stats()).messagesQueued, server: await server.cpuMs(), simulator: await simulatorCpuMs() }
        let load: LoadResult
        let machineAtEnd: MachineCpu
        let endedAt: number
        if (side !== 'kannel') {
          load = await runLoad({ ...synchronous[side].request, seconds: stretch })
          ofSynchronous[side].loads.push(load)
          ofSynchronous[side].delivered += (await simulator.stats()).messagesQueued - before.queued
          machineAtEnd = load.machineAtEnd
          endedAt = load.endedAt
        } else {
          load = await runLoad({ ...kannelRequest, seconds: stretch })
          const drained = await waitForDrain(simulator, before.queued + load.ok, kannel.status, drainLimitS)
          machineAtEnd = await machineCpuOf()
          endedAt = drained.at
          ofKannel.push({ load, drained, delivered: drained.delivered - before.queued, seconds: (drained.at - load.startedAt) / 1000 })
        }
        cpu[side].wallMs += endedAt - load.startedAt
        cpu[side].machineBusy += machineAtEnd.busyMs - load.machineAtStart.busyMs
        cpu[side].machineStolen += machineAtEnd.stolenMs - load.machineAtStart.stolenMs
        cpu[side].load += load.loadCpuMs
        cpu[side].server += await server.cpuMs() - before.server
        cpu[side].simulator += await simulatorCpuMs() - before.simulator
      }
      const gatewayLoad = combine(...ofSynchronous.gateway.loads)
      const gatewayDelivered = ofSynchronous.gateway.delivered
      const forwarderLoad = combine(...ofSynchronous.forwarder.loads)
      const forwarderDelivered = ofSynchronous.forwarder.delivered
      const kannelDelivered = ofKannel.reduce((sum, s) => sum + s.delivered, 0)
      const kannelSeconds = ofKannel.reduce((sum, s) => sum + s.seconds, 0)
      const kannelLoad = combine(...ofKannel.map((s) => s.load))
      const undrained = ofKannel.filter((s) => !s.drained.complete)
      const failedAtKannel = ofKannel.at(-1)?.drained.status.failed ?? 0
      const kannelRate = kannelDelivered / kannelSeconds
      const gatewayRate = gatewayDelivered / gatewayLoad.seconds
      const forwarderRate = forwarderDelivered / forwarderLoad.seconds
      const perMessage = (side: Side, delivered: number) => {
        const { server, simulator, load } = cpu[side]
        return { server: server / delivered, simulator: simulator / delivered, load: load / delivered, all: (server + simulator + load) / delivered }
      }
      const ofGatewaySide = perMessage('gateway', gatewayDelivered)
      const ofForwarderSide = perMessage('forwarder', forwarderDelivered)
      const ofKannelSide = perMessage('kannel', kannelDelivered)
      const cores = availableParallelism()
      // The rate a side would reach with every core busy on its three processes, at the CPU per
      // message it measured: above the other side's measured rate means cores were left idle.
      const gatewayCeiling = cores * 1000 / ofGatewaySide.all
      // The gateway's one event loop cannot deliver faster than one core's worth of its own CPU.
      const oneThreadLimit = 1000 / ofGatewaySide.server
      const busyCores = (side: Side) => cpu[side].machineBusy / cpu[side].wallMs
      const stolenCores = (side: Side) => cpu[side].machineStolen / cpu[side].wallMs
      return {
        ...header,
        title: title(settings),
        figures: [
          { measure: 'delivered per second, end to end', unit: 'msg/s', subject: gatewayRate, baseline: kannelRate },
          { measure: 'callers answered per second', unit: 'req/s', subject: gatewayLoad.rate, baseline: kannelLoad.rate },
          { measure: 'delivered to the simulator', unit: 'count', subject: gatewayDelivered, baseline: kannelDelivered },
          { measure: 'time until the last delivery, all stretches', unit: 's', subject: gatewayLoad.seconds, baseline: kannelSeconds },
          { measure: 'answers carrying a message id', unit: 'count', subject: gatewayLoad.matched ?? 0, baseline: 0 },
          { measure: 'server CPU per delivered message (Kannel: bearerbox + smsbox)', unit: 'ms', subject: ofGatewaySide.server, baseline: ofKannelSide.server },
          { measure: 'simulator CPU per delivered message (JSON POST / GET query)', unit: 'ms', subject: ofGatewaySide.simulator, baseline: ofKannelSide.simulator },
          { measure: 'load generator CPU per delivered message', unit: 'ms', subject: ofGatewaySide.load, baseline: ofKannelSide.load },
          { measure: 'all three processes\' CPU per delivered message', unit: 'ms', subject: ofGatewaySide.all, baseline: ofKannelSide.all },
          { measure: `machine busy over the side's stretches (of ${cores} cores)`, unit: 'cores', subject: busyCores('gateway'), baseline: busyCores('kannel') },
          { measure: `delivered per second with all ${cores} cores busy (cores ÷ all three's CPU per message)`, unit: 'msg/s', subject: gatewayCeiling, baseline: cores * 1000 / ofKannelSide.all },
          { measure: 'the gateway\'s one thread, busy all the time (1 s ÷ its CPU per message)', unit: 'msg/s', subject: oneThreadLimit },
          { measure: 'in the gateway\'s place, row 1\'s minimal forwarder: delivered per second', unit: 'msg/s', subject: forwarderRate, baseline: kannelRate },
          { measure: 'the minimal forwarder\'s server CPU per delivered message', unit: 'ms', subject: ofForwarderSide.server, baseline: ofKannelSide.server },
          { measure: 'the minimal forwarder\'s side, all three processes\' CPU per delivered message', unit: 'ms', subject: ofForwarderSide.all, baseline: ofKannelSide.all }
        ],
        checks: [atLeast('delivered per second vs. Kannel', gatewayRate / kannelRate, MIN_KANNEL_RATIO)],
        notes: [
          `${stretches} stretches of ${stretch.toFixed(1)} s a side, gateway, minimal forwarder and Kannel in turns; Kannel accepted ${kannelLoad.ok} sends in ${kannelLoad.seconds.toFixed(1)} s and took ${(kannelSeconds - kannelLoad.seconds).toFixed(1)} s more to drain its queue` +
            (undrained.length === 0 ? '' : ` — ${undrained.length} stretch(es) NOT drained within the limit (${undrained.map((s) => s.drained.status.queued).join(', ')} still queued), rate counted at the limit`),
          `Kannel: max-pending-submits ${settings.connections} (as many upstream requests in flight as the gateway's callers have), failed ${failedAtKannel}`,
          `the gateway and the forwarder had a ${warmupSecondsFor(settings.seconds)}-s warm-up each, not counted; Kannel none (no JIT to warm)`,
          ceilingNote({ cores, ceiling: gatewayCeiling, oneThreadLimit, kannel: kannelRate }),
          forwarderNote({ gateway: gatewayRate, forwarder: forwarderRate, kannel: kannelRate }),
          `cores taken by the host while they had work (steal): ${stolenCores('gateway').toFixed(2)} in the gateway's stretches, ${stolenCores('forwarder').toFixed(2)} in the forwarder's, ${stolenCores('kannel').toFixed(2)} in Kannel's`,
          ...(standIn ? ['upstream: the bench stand-in (the simulator\'s own send_sms logic, also served on GET) — the simulator itself answers only POST; every side used it'] : [])
        ]
      }
    } finally {
      await kannel.stop()
    }
  } finally {
    await Promise.all([gateway.stop(), forwarder.stop(), simulator.stop()])
  }
}

type SynchronousSide = 'gateway' | 'forwarder'
type Side = SynchronousSide | 'kannel'

/** CPU time in ms over one side's stretches; wallMs is the time the machine's figures cover. */
function emptyCpu () {
  return { server: 0, simulator: 0, load: 0, machineBusy: 0, machineStolen: 0, wallMs: 0 }
}

interface KannelStretch { load: LoadResult, drained: Drain, delivered: number, seconds: number }

/**
 * Kannel's generic HTTP SMSC sends a GET with a query string. The simulator is used if it
 * answers that; otherwise both sides of this row use the stand-in, so the comparison stays fair.
 */
async function startUpstreamForKannel (): Promise<{ simulator: SimulatorProcess, standIn: boolean }> {
  const simulator = await startSimulatorProcess(0)
  const probe = new URLSearchParams({ ...UPSTREAM_USER, phone: PHONE, text: 'probe', test: 'true' })
  const response = await request(`${simulator.url}messages/send_sms?${probe.toString()}`)
  const body = await response.body.text()
  if (body.includes('"success":true')) return { simulator, standIn: false }
  await simulator.stop()
  return { simulator: await startSimulatorProcess(0, true), standIn: true }
}

interface Drain { delivered: number, at: number, complete: boolean, status: KannelStatus }

async function waitForDrain (simulator: SimulatorProcess, expected: number, readStatus: () => Promise<KannelStatus>, limitS: number): Promise<Drain> {
  const deadline = Date.now() + limitS * 1000
  for (;;) {
    const { messagesQueued } = await simulator.stats()
    const at = Date.now()
    if (messagesQueued >= expected || at > deadline) {
      const status = await readStatus()
      if ((status.queued === 0 && messagesQueued >= expected) || at > deadline) {
        return { delivered: messagesQueued, at, complete: status.queued === 0 && messagesQueued >= expected, status }
      }
    }
    await sleep(DRAIN_POLL_MS)
  }
}
