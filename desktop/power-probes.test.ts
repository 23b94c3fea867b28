import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batteryPercent, type CpuTimes, desktopProbes, type PowerMonitorLike } from './power-probes.js';

const root = mkdtempSync(join(tmpdir(), 'codeexec-probes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A /sys/class/power_supply with the given supplies: name → files. */
function supplies(name: string, entries: Record<string, Record<string, string>>): string {
  const dir = join(root, name);
  for (const [supply, files] of Object.entries(entries)) {
    mkdirSync(join(dir, supply), { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, supply, file), `${text}\n`);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

const monitor = (idle: number, onBattery: boolean): PowerMonitorLike => ({
  getSystemIdleTime: () => idle,
  isOnBatteryPower: () => onBattery,
});

const core = (busy: number, idle: number): CpuTimes => ({ user: busy, nice: 0, sys: 0, idle, irq: 0 });

describe('desktopProbes', () => {
  it("reads idle time and the power source from Electron's powerMonitor", () => {
    const probes = desktopProbes(monitor(312, true), { platform: 'win32', cpuTimes: () => [core(0, 0)] });
    expect(probes.idleSeconds()).toBe(312);
    expect(probes.power()).toEqual({ onBattery: true, percent: null });
  });

  it('reads the battery level on Linux from the BAT* supplies', () => {
    const dir = supplies('laptop', {
      AC: { type: 'Mains', online: '0' },
      BAT0: { type: 'Battery', capacity: '34' },
      BAT1: { type: 'Battery', capacity: '51' },
      hidpp_battery_0: { type: 'Battery', scope: 'Device', capacity: '5' },
    });
    const probes = desktopProbes(monitor(0, true), {
      platform: 'linux',
      powerSupplyDir: dir,
      cpuTimes: () => [],
    });
    expect(probes.power()).toEqual({ onBattery: true, percent: 43 });
  });

  it.each([
    ['no power_supply directory', join(root, 'absent'), null],
    ['mains only (a desktop)', supplies('desktop', { AC: { type: 'Mains', online: '1' } }), null],
    ['an unreadable capacity', supplies('broken', { BAT0: { type: 'Battery', capacity: 'n/a' } }), null],
    ['a capacity past 100', supplies('odd', { BAT0: { type: 'Battery', capacity: '104' } }), 100],
  ])('battery percent with %s: %s', (_, dir, percent) => {
    expect(batteryPercent(dir)).toBe(percent);
  });

  it("measures other programs' CPU between calls, less the donor's own share", () => {
    let times = [core(100, 900), core(100, 900)];
    let donorCpus = 0;
    const probes = desktopProbes(monitor(0, false), { cpuTimes: () => times, donorCpus: () => donorCpus });
    // Both cores 60 % busy since the last reading.
    times = [core(160, 940), core(160, 940)];
    expect(probes.otherCpuPercent()).toBe(60);
    // Then fully busy, one of the two cores the donor's: 50 % is someone else's.
    times = [core(260, 940), core(260, 940)];
    donorCpus = 1;
    expect(probes.otherCpuPercent()).toBe(50);
    // The donor's share never makes it negative; no time passed: the last figure.
    donorCpus = 4;
    times = [core(300, 950), core(300, 950)];
    expect(probes.otherCpuPercent()).toBe(0);
    expect(probes.otherCpuPercent()).toBe(0);
  });

  it('reports memory in use from total and available memory', () => {
    const probes = desktopProbes(monitor(0, false), {
      cpuTimes: () => [],
      memory: () => ({ total: 16_000, free: 4_000 }),
    });
    expect(probes.memoryUsedPercent()).toBe(75);
  });

  it('gives unknown idle time as null', () => {
    const probes = desktopProbes(monitor(Number.NaN, false), { cpuTimes: () => [] });
    expect(probes.idleSeconds()).toBeNull();
  });

  it('works on this machine with the real os figures', () => {
    const probes = desktopProbes(monitor(5, false));
    expect(probes.memoryUsedPercent()).toBeGreaterThan(0);
    expect(probes.otherCpuPercent()).toBeGreaterThanOrEqual(0);
  });
});
