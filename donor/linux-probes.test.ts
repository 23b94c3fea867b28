// The headless donor's probes over fake /proc and /sys trees: power supplies (mains, batteries, a
// mouse's battery, none), CPU deltas minus the donor's own share, memory, and missing files.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { linuxProbes, parseMeminfo, parseProcStat, readPower } from './linux-probes.js';

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'codeexec-probes-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

const supply = (name: string, fields: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [`sys/class/power_supply/${name}/${key}`, `${value}\n`]),
  );

/** A /proc/stat whose aggregate line is user, system, idle (the rest 0). */
const stat = (user: number, system: number, idle: number) =>
  `cpu  ${user} 0 ${system} ${idle} 0 0 0 0 0 0\ncpu0 ${user} 0 ${system} ${idle} 0 0 0 0 0 0\nintr 1\n`;

describe('power', () => {
  it('a laptop on mains: not on battery, with its level', async () => {
    const root = await tree({
      ...supply('AC', { type: 'Mains', online: '1' }),
      ...supply('BAT0', { type: 'Battery', capacity: '81', status: 'Charging' }),
    });
    expect(readPower(join(root, 'sys/class/power_supply'))).toEqual({ onBattery: false, percent: 81 });
  });

  it('unplugged: on battery; two batteries give their mean', async () => {
    const root = await tree({
      ...supply('ADP1', { type: 'Mains', online: '0' }),
      ...supply('BAT0', { type: 'Battery', capacity: '30', status: 'Discharging' }),
      ...supply('BAT1', { type: 'Battery', capacity: '51', status: 'Discharging' }),
    });
    expect(linuxProbes({ root }).power()).toEqual({ onBattery: true, percent: 41 });
  });

  it("ignores a wireless mouse's battery, and a battery with no mains listed follows its status", async () => {
    const root = await tree({
      ...supply('hidpp_battery_0', {
        type: 'Battery',
        scope: 'Device',
        capacity: '5',
        status: 'Discharging',
      }),
    });
    expect(readPower(join(root, 'sys/class/power_supply'))).toEqual({ onBattery: false, percent: null });
    const full = await tree(supply('BAT0', { type: 'Battery', capacity: '100', status: 'Full' }));
    expect(readPower(join(full, 'sys/class/power_supply'))).toEqual({ onBattery: false, percent: 100 });
  });

  it('no power supply directory (a server, not Linux): on mains, no battery', async () => {
    const root = await tree({});
    expect(linuxProbes({ root }).power()).toEqual({ onBattery: false, percent: null });
  });
});

describe('CPU used by other programs', () => {
  it('is the busy share between two calls, minus what the donor may use, floored at 0', async () => {
    const root = await tree({ 'proc/stat': stat(100, 100, 800) });
    let donorCpus = 0;
    const probes = linuxProbes({ root, cores: 4, donorCpus: () => donorCpus });
    // 300 of 400 jiffies busy since the first reading: 75 %.
    await writeFile(join(root, 'proc/stat'), stat(300, 200, 900));
    expect(probes.otherCpuPercent()).toBe(75);
    // 50 % busy, and the donor's jobs may use 1 of 4 cores: others use 25 %.
    donorCpus = 1;
    await writeFile(join(root, 'proc/stat'), stat(400, 300, 1100));
    expect(probes.otherCpuPercent()).toBe(25);
    donorCpus = 4;
    await writeFile(join(root, 'proc/stat'), stat(500, 400, 1300));
    expect(probes.otherCpuPercent()).toBe(0);
  });

  it('keeps its last figure when no time passed or /proc/stat is missing', async () => {
    const root = await tree({ 'proc/stat': stat(0, 0, 100) });
    const probes = linuxProbes({ root, cores: 1 });
    await writeFile(join(root, 'proc/stat'), stat(50, 0, 150));
    expect(probes.otherCpuPercent()).toBe(50);
    expect(probes.otherCpuPercent()).toBe(50);
    await rm(join(root, 'proc/stat'));
    expect(probes.otherCpuPercent()).toBe(50);
    expect(linuxProbes({ root }).otherCpuPercent()).toBe(0);
  });

  it('parses the aggregate line, leaving guest time out (it is in user already)', () => {
    expect(parseProcStat('cpu  10 1 5 80 4 0 0 0 7 0\n')).toEqual({ busy: 16, total: 100 });
    expect(parseProcStat('intr 1\n')).toBeNull();
  });
});

describe('memory', () => {
  it('is MemTotal − MemAvailable, else what the OS module says', async () => {
    expect(parseMeminfo('MemTotal:  1000 kB\nMemFree: 100 kB\nMemAvailable:  250 kB\n')).toBe(75);
    expect(parseMeminfo('MemTotal:  1000 kB\n')).toBeNull();
    const root = await tree({ 'proc/meminfo': 'MemTotal: 2000 kB\nMemAvailable: 1500 kB\n' });
    expect(linuxProbes({ root }).memoryUsedPercent()).toBe(25);
    const bare = linuxProbes({ root: await tree({}) }).memoryUsedPercent();
    expect(bare).toBeGreaterThan(0);
    expect(bare).toBeLessThanOrEqual(100);
  });

  it('has no idle time to give: headless counts as idle', () => {
    expect(linuxProbes().idleSeconds()).toBeNull();
  });
});
