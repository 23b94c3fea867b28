// What the donor policy needs to know about a desktop machine: the owner's idle time and the power
// source from Electron's powerMonitor (passed in), the battery level from Linux's
// /sys/class/power_supply (null elsewhere: Electron does not report it), and CPU and memory from
// Node's os module, which every platform has.
import { cpus, freemem, totalmem } from 'node:os';
import { readPower } from '../donor/linux-probes.js';
import type { SystemProbes } from './donor-engine.js';

/** The part of Electron's powerMonitor the probes use. */
export interface PowerMonitorLike {
  /** Seconds since the last keyboard or mouse input. */
  getSystemIdleTime(): number;
  isOnBatteryPower(): boolean;
}

export interface CpuTimes {
  user: number;
  nice: number;
  sys: number;
  idle: number;
  irq: number;
}

export interface DesktopProbeOptions {
  /** process.platform by default; the battery level is read on 'linux' only. */
  platform?: NodeJS.Platform;
  /** Default /sys/class/power_supply (tests: a directory with fake files). */
  powerSupplyDir?: string;
  /** Each core's times since boot; default os.cpus(). */
  cpuTimes?: () => CpuTimes[];
  /** Default os.totalmem() / os.freemem() (free means available: libuv reads MemAvailable on Linux). */
  memory?: () => { total: number; free: number };
  /** The cores the donor's own sandboxes may be using now: not "other programs". Default none. */
  donorCpus?: () => number;
}

export function desktopProbes(power: PowerMonitorLike, options: DesktopProbeOptions = {}): SystemProbes {
  const platform = options.platform ?? process.platform;
  const supplyDir = options.powerSupplyDir ?? '/sys/class/power_supply';
  const cpuTimes = options.cpuTimes ?? (() => cpus().map((cpu) => cpu.times));
  const memory = options.memory ?? (() => ({ total: totalmem(), free: freemem() }));
  let previous = sumTimes(cpuTimes());
  let lastOther = 0;
  return {
    idleSeconds: () => {
      const seconds = power.getSystemIdleTime();
      return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
    },
    power: () => ({
      onBattery: power.isOnBatteryPower(),
      percent: platform === 'linux' ? batteryPercent(supplyDir) : null,
    }),
    // The machine's busy share since the previous call, less the share the donor's sandboxes may
    // use, floored at 0 (linux-probes.ts does the same from /proc/stat for the headless donor).
    otherCpuPercent: () => {
      const times = cpuTimes();
      const now = sumTimes(times);
      const total = now.total - previous.total;
      if (total <= 0) return lastOther;
      const busyPercent = (100 * (now.busy - previous.busy)) / total;
      previous = now;
      const cores = Math.max(1, times.length);
      const donorPercent = (100 * Math.min(cores, Math.max(0, options.donorCpus?.() ?? 0))) / cores;
      lastOther = clampPercent(busyPercent - donorPercent);
      return lastOther;
    },
    memoryUsedPercent: () => {
      const { total, free } = memory();
      return total > 0 ? clampPercent((100 * (total - free)) / total) : 0;
    },
  };
}

function sumTimes(times: readonly CpuTimes[]): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const t of times) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/**
 * The mean capacity of the system batteries (`BAT*`, not a device's own battery such as a
 * wireless mouse's) in `dir`; null when there is none or it cannot be read.
 */
export function batteryPercent(dir: string): number | null {
  return readPower(dir).percent;
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}
