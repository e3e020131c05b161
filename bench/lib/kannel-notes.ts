/**
 * What the Kannel row's figures say of its target, in words for the table. Plain functions of
 * the measured rates (messages delivered per second), so a test reaches every verdict.
 */

export const MIN_KANNEL_RATIO = 1.0

/**
 * The gateway's side at every core busy (cores ÷ the CPU per message of its three processes)
 * and its one event loop busy all the time (1 s ÷ the server's CPU per message), against
 * Kannel's measured rate: which of the two held the gateway back.
 */
export function ceilingNote ({ cores, ceiling, oneThreadLimit, kannel }: { cores: number, ceiling: number, oneThreadLimit: number, kannel: number }): string {
  const lead = `with all ${cores} cores busy at the CPU per message it measured, the gateway's side would deliver ${ceiling.toFixed(0)} msg/s, ${(ceiling / kannel).toFixed(2)}× Kannel's measured rate: `
  if (ceiling < kannel * MIN_KANNEL_RATIO) return lead + 'short of the target however the gateway used the cores, so only less CPU per message would meet it here'
  if (oneThreadLimit < kannel * MIN_KANNEL_RATIO) {
    return lead + `the cores it left idle would meet the target, but only a gateway on more than one thread could use them: its one thread busy all the time caps it at ${oneThreadLimit.toFixed(0)} msg/s`
  }
  return lead + `the cores it left idle would meet the target, and its one thread (busy all the time, ${oneThreadLimit.toFixed(0)} msg/s) could too: the synchronous chain held it back, not its CPU`
}

/**
 * What the minimal forwarder's turns say: it is the least a synchronous gateway on one Node thread
 * does (no validation, no auth, no log line, no metrics), so Kannel's rate in the forwarder's
 * units is what the target asks of the gateway against that floor.
 */
export function forwarderNote ({ gateway, forwarder, kannel }: { gateway: number, forwarder: number, kannel: number }): string {
  const asked = kannel * MIN_KANNEL_RATIO / forwarder
  const measured = `the minimal forwarder delivered ${(forwarder / kannel).toFixed(2)}× Kannel's rate and the gateway ${(gateway / forwarder).toFixed(2)}× the forwarder's`
  return asked > 1
    ? `${measured}: not even a forwarder with no feature, on one Node thread, met the target here`
    : `${measured}: the target asked the gateway for ${asked.toFixed(2)}× the forwarder's rate (row 1 asks 0.8×)`
}
