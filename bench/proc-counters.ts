// What the bench reads from Linux's /proc around each load: the CPU time of each thread of a
// server, the machine's CPU time stolen by the hypervisor, and the interrupts the machine took.
// Every reader answers `undefined` (or an empty map) where there is no /proc.
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds used so far by each thread of a process, by thread id; empty where there is no /proc. */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const seconds = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      seconds.set(tid, cpuSecondsOf(`/proc/${pid}/task/${tid}/stat`));
  } catch {
    // Not Linux, or the process is gone: no breakdown.
  }
  return seconds;
}

/** User + system CPU seconds from a /proc `stat` file (fields 14 and 15). */
function cpuSecondsOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** The machine's CPU time so far, in clock ticks: in all, and stolen by the hypervisor (given to other guests). */
interface MachineTicks {
  total: number;
  steal: number;
}

/** The machine's CPU time so far (see `MachineTicks`). */
export function machineTicks(): MachineTicks | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal: guest time is already in user.
    return { total: fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0), steal: fields[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/** The share of CPU time stolen between two readings of `machineTicks`, in %. */
export function stealPercent(
  before: MachineTicks | undefined,
  after: MachineTicks | undefined,
): number | undefined {
  if (before === undefined || after === undefined || after.total === before.total) return undefined;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

/**
 * Interrupts the machine took so far, summed over its cores. In a virtual machine each one costs
 * an exit to the hypervisor or an injection by it, and Linux counts the time of a hard interrupt
 * as the time of the thread it interrupted (without IRQ time accounting).
 */
export interface Interrupts {
  /** Completions of a block device's requests (virtio-blk, NVMe, SCSI): a sync takes two (write, flush). */
  disk: number;
  /**
   * Interrupts one core sends another (function-call and rescheduling interrupts), most of them
   * to wake a thread there: a thread that wakes a sleeping thread on another core sends one.
   */
  crossCore: number;
}

/** A block device's request queue, as /proc/interrupts names it. */
const DISK_INTERRUPT = /virtio\d+-req|nvme\d+q\d+|ahci|scsi|ata_piix/;

/** The interrupts taken so far (see `Interrupts`). */
export function interrupts(): Interrupts | undefined {
  try {
    const [header = '', ...rows] = readFileSync('/proc/interrupts', 'utf8').split('\n');
    const cores = header.trim().split(/\s+/).length;
    const counted = { disk: 0, crossCore: 0 };
    for (const row of rows) {
      const fields = row.trim().split(/\s+/);
      const total = fields.slice(1, 1 + cores).reduce((sum, count) => sum + (Number(count) || 0), 0);
      if (fields[0] === 'CAL:' || fields[0] === 'RES:') counted.crossCore += total;
      else if (DISK_INTERRUPT.test(row)) counted.disk += total;
    }
    return counted;
  } catch {
    return undefined;
  }
}

/** Interrupts between two readings of `interrupts`, per 1000 answered requests. */
export function interruptsPerThousand(
  before: Interrupts | undefined,
  after: Interrupts | undefined,
  requests: number,
): Interrupts | undefined {
  if (before === undefined || after === undefined || requests === 0) return undefined;
  return {
    disk: (1000 * (after.disk - before.disk)) / requests,
    crossCore: (1000 * (after.crossCore - before.crossCore)) / requests,
  };
}
