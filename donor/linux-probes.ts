// What the donor policy needs to know about a machine without a GUI (`codeexec donor`), read from
// Linux's /proc and /sys: nobody's keyboard to watch (idle: unknown, which the policy counts as
// idle), the power supply, the CPU other programs use, and memory in use. Every read tolerates a
// missing file (another OS, a container): the fallback is the answer that never stops donating
// for a reason that cannot be seen (mains power, no other load) except memory, which os.* knows.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import type { SystemProbes } from './donor-service.js';

export interface LinuxProbeOptions {
  /** Where /proc and /sys are (tests: a directory with fake files); default `/`. */
  root?: string;
  /**
   * The cores the donor's own sandboxes may be using now (running jobs × CPUs each): subtracted
   * from the machine's busy share to estimate what other programs use. Default: none.
   */
  donorCpus?: () => number;
  /** Cores of the machine; default os.cpus().length. */
  cores?: number;
}

interface CpuSample {
  busy: number;
  total: number;
}

/**
 * Probes for a headless Linux machine. otherCpuPercent is an estimate: the machine's busy share
 * since the previous call (from /proc/stat) minus the share the donor's running sandboxes may use
 * (donorCpus / cores), floored at 0. It over-subtracts while a job idles (sleeps, waits on input),
 * which only matters when another program is busy at that very moment; reading the sandboxes'
 * own cgroups would be exact but needs the container ids and the engine's cgroup layout.
 */
export function linuxProbes(options: LinuxProbeOptions = {}): SystemProbes {
  const root = options.root ?? '/';
  const cores = Math.max(1, options.cores ?? (cpus().length || 1));
  let previous = readCpu(root);
  let lastOther = 0;
  return {
    idleSeconds: () => null,
    power: () => readPower(join(root, 'sys/class/power_supply')),
    otherCpuPercent: () => {
      const now = readCpu(root);
      if (now === null || previous === null || now.total <= previous.total) {
        previous = now ?? previous;
        return lastOther;
      }
      const busyPercent = (100 * (now.busy - previous.busy)) / (now.total - previous.total);
      previous = now;
      const donorPercent = (100 * Math.min(cores, Math.max(0, options.donorCpus?.() ?? 0))) / cores;
      lastOther = clampPercent(busyPercent - donorPercent);
      return lastOther;
    },
    memoryUsedPercent: () => readMemory(root),
  };
}

/** The aggregate `cpu` line of /proc/stat: busy and total jiffies; null when unreadable. */
export function parseProcStat(text: string): CpuSample | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return null;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is already in
  // user and nice, so it is left out of the total; idle and iowait are not busy.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

function readCpu(root: string): CpuSample | null {
  const text = readText(join(root, 'proc/stat'));
  return text === null ? null : parseProcStat(text);
}

/** Memory in use, percent: MemTotal − MemAvailable of /proc/meminfo, else os.totalmem/freemem. */
export function parseMeminfo(text: string): number | null {
  const value = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return match ? Number(match[1]) : null;
  };
  const total = value('MemTotal');
  const available = value('MemAvailable');
  if (total === null || available === null || total <= 0) return null;
  return clampPercent((100 * (total - available)) / total);
}

function readMemory(root: string): number {
  const text = readText(join(root, 'proc/meminfo'));
  const fromProc = text === null ? null : parseMeminfo(text);
  if (fromProc !== null) return fromProc;
  const total = totalmem();
  return total > 0 ? clampPercent((100 * (total - freemem())) / total) : 0;
}

/**
 * The power supplies in `dir` (/sys/class/power_supply): on battery when a system battery is
 * there and discharges, or none of the mains (or USB) supplies listed is online; the percent is the system batteries'
 * mean capacity. A device's own battery (a wireless mouse: scope Device) is not the computer's.
 * No supply at all (a server, a desktop, a VM, not Linux): on mains, no battery.
 */
export function readPower(dir: string): { onBattery: boolean; percent: number | null } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { onBattery: false, percent: null };
  }
  let mainsSeen = false;
  let mainsOnline = false;
  let discharging = false;
  const capacities: number[] = [];
  for (const name of names) {
    const read = (file: string) => readText(join(dir, name, file))?.trim() ?? null;
    const type = read('type');
    if (type === 'Mains' || type === 'USB') {
      mainsSeen = true;
      if (read('online') === '1') mainsOnline = true;
    } else if (type === 'Battery' && read('scope') !== 'Device') {
      const capacity = Number(read('capacity'));
      if (read('capacity') !== null && Number.isFinite(capacity)) capacities.push(clampPercent(capacity));
      if (read('status') === 'Discharging') discharging = true;
    }
  }
  const percent =
    capacities.length === 0 ? null : Math.round(capacities.reduce((a, b) => a + b, 0) / capacities.length);
  // A battery that discharges while a charger reads online (a weak charger) is still on battery;
  // with no mains supply listed at all, the battery's own status is all there is.
  const onBattery = percent !== null && (discharging || (mainsSeen && !mainsOnline));
  return { onBattery, percent };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}
