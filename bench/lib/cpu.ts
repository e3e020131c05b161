import { readFile } from 'node:fs/promises'

/** CPU time as /proc counts it, for the rows' CPU figures. */

/** /proc counts in ticks of the kernel's USER_HZ, 100 on Linux. */
const CLOCK_TICKS_PER_SECOND = 100

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export async function cpuMsOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks * 1000 / CLOCK_TICKS_PER_SECOND
}

export interface MachineCpu {
  /** ms the machine's cores spent running anything, summed over the cores */
  busyMs: number
  /** ms the hypervisor gave this machine's cores to others while they had work (steal) */
  stolenMs: number
}

/** The whole machine's CPU time so far, from /proc/stat. */
export async function machineCpuOf (): Promise<MachineCpu> {
  return parseMachineCpu(await readFile('/proc/stat', 'utf8'))
}

/**
 * The first line of /proc/stat: `cpu  user nice system idle iowait irq softirq steal guest
 * guest_nice`, in ticks summed over the cores. Guest time is already inside user (and guest_nice
 * inside nice), so it is not added again.
 */
export function parseMachineCpu (stat: string): MachineCpu {
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).map(Number)
  const ms = (...indices: number[]) => indices.reduce((sum, i) => sum + (fields[i] ?? Number.NaN), 0) * 1000 / CLOCK_TICKS_PER_SECOND
  return { busyMs: ms(1, 2, 3, 6, 7), stolenMs: ms(8) }
}
