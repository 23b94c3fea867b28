// The donor policy on plain data with a fake clock: each rule, their order, the hysteresis of the
// battery and of other programs' load, the grace after the owner's return, the schedule across
// midnight, the budget, the caps and when a decision counts as a change.
import { describe, expect, it } from 'vitest';
import { DESKTOP_DEFAULT_SETTINGS, type DonorSettings, HEADLESS_DEFAULT_SETTINGS } from '../shared/donor.js';
import {
  CPU_CALM_MS,
  capsFor,
  decide,
  INITIAL_POLICY_MEMORY,
  nextCheckInMs,
  type PolicyDecision,
  type PolicyInputs,
  type PolicyMemory,
} from './donor-policy.js';

/** Friday 12:00 local, on a whole minute. */
const T0 = Date.UTC(2026, 10, 27, 11, 0, 0);
const FRIDAY = 5;

type SettingsChange = { [K in keyof DonorSettings]?: Partial<DonorSettings[K]> };

function settingsWith(
  change: SettingsChange = {},
  base: DonorSettings = HEADLESS_DEFAULT_SETTINGS,
): DonorSettings {
  return {
    version: 1,
    idle: { ...base.idle, ...change.idle },
    power: { ...base.power, ...change.power },
    schedule: { ...base.schedule, ...change.schedule },
    limits: { ...base.limits, ...change.limits },
  };
}

/** A donor's loop on a fake clock: `step` decides now, `advance` moves time (idle time grows) and decides. */
function donor(settings: DonorSettings, start: Partial<PolicyInputs> = {}) {
  let memory: PolicyMemory = INITIAL_POLICY_MEMORY;
  let exactMinutes = start.localMinutes ?? 12 * 60;
  let inputs: PolicyInputs = {
    now: T0,
    localDay: FRIDAY,
    localMinutes: exactMinutes,
    idleSeconds: null,
    onBattery: false,
    batteryPercent: null,
    otherCpuPercent: 0,
    memoryUsedPercent: 30,
    cpuSecondsToday: 0,
    owner: { kind: 'none' },
    ...start,
  };
  const step = (change: Partial<PolicyInputs> = {}) => {
    inputs = { ...inputs, ...change };
    const result = decide(memory, inputs, settings);
    memory = result.memory;
    return result;
  };
  return {
    step,
    /** Moves the clock on by `ms` (the local day and minute follow, whole minutes like a wall clock). */
    advance(ms: number, change: Partial<PolicyInputs> = {}) {
      exactMinutes += ms / 60_000;
      const days = Math.floor(exactMinutes / 1440);
      exactMinutes -= days * 1440;
      inputs = {
        ...inputs,
        now: inputs.now + ms,
        localDay: (inputs.localDay + days) % 7,
        localMinutes: Math.floor(exactMinutes + 1e-9),
        idleSeconds: inputs.idleSeconds === null ? null : inputs.idleSeconds + ms / 1000,
      };
      return step(change);
    },
    get memory() {
      return memory;
    },
    get inputs() {
      return inputs;
    },
  };
}

function brief(decision: PolicyDecision): [string, string] {
  return [decision.state, decision.reason];
}

describe('capsFor', () => {
  it('gives max_jobs slots and one CPU for the desktop defaults', () => {
    expect(capsFor(DESKTOP_DEFAULT_SETTINGS)).toEqual({ slots: 1, cpus: 1, memory_mb: 512, languages: null });
  });

  it('shares cores × percent between the slots, to 2 decimals', () => {
    const settings = settingsWith({ limits: { max_jobs: 3, cpu_cores: 4, cpu_percent: 50 } });
    expect(capsFor(settings).cpus).toBe(0.67);
    expect(capsFor(settingsWith({ limits: { max_jobs: 2, cpu_cores: 3, cpu_percent: 75 } })).cpus).toBe(1.13);
  });

  it('never gives a sandbox less than 0.1 CPU', () => {
    expect(capsFor(settingsWith({ limits: { max_jobs: 64, cpu_cores: 0.1, cpu_percent: 1 } })).cpus).toBe(
      0.1,
    );
  });

  it('passes memory and languages through (a copy of the list)', () => {
    const languages = ['python', 'go'];
    const caps = capsFor(settingsWith({ limits: { memory_mb: 2048, languages } }));
    expect(caps).toMatchObject({ memory_mb: 2048, languages: ['python', 'go'] });
    expect(caps.languages).not.toBe(languages);
  });

  it('is on every decision, whatever the state', () => {
    const settings = settingsWith({ limits: { max_jobs: 4, cpu_cores: 2 } });
    const paused = donor(settings).step({ owner: { kind: 'paused', until: null } });
    expect(paused.decision.caps).toEqual(capsFor(settings));
  });
});

describe('the owner', () => {
  it('pauses indefinitely', () => {
    const { decision } = donor(HEADLESS_DEFAULT_SETTINGS).step({ owner: { kind: 'paused', until: null } });
    expect(decision).toMatchObject({
      state: 'paused',
      reason: 'paused_by_owner',
      text: 'Paused until you resume',
    });
  });

  it('pauses until a local time, then the normal rules return', () => {
    const d = donor(HEADLESS_DEFAULT_SETTINGS);
    const until = T0 + 2 * 3600_000;
    const paused = d.step({ owner: { kind: 'paused', until } });
    expect(paused.decision.text).toBe('Paused until 14:00');
    expect(d.advance(3600_000 + 59 * 60_000).decision.reason).toBe('paused_by_owner');
    const after = d.advance(60_000);
    expect(brief(after.decision)).toEqual(['donating', 'donating']);
    expect(after.changed).toBe(true);
  });

  it('names the day of a pause that ends after midnight', () => {
    const d = donor(HEADLESS_DEFAULT_SETTINGS, { localMinutes: 23 * 60 });
    expect(d.step({ owner: { kind: 'paused', until: T0 + 150 * 60_000 } }).decision.text).toBe(
      'Paused until tomorrow 01:30',
    );
    expect(d.step({ owner: { kind: 'paused', until: T0 + 3 * 86_400_000 } }).decision.text).toBe(
      'Paused until Mon 23:00',
    );
  });

  it('counts a pause whose end has passed as none', () => {
    const { decision } = donor(HEADLESS_DEFAULT_SETTINGS).step({ owner: { kind: 'paused', until: T0 - 1 } });
    expect(brief(decision)).toEqual(['donating', 'donating']);
  });

  it('finishes on request', () => {
    const { decision } = donor(HEADLESS_DEFAULT_SETTINGS).step({ owner: { kind: 'finish' } });
    expect(brief(decision)).toEqual(['finishing', 'finishing_by_owner']);
  });

  it('comes before every other rule', () => {
    const settings = settingsWith({
      power: { run_on_battery: false },
      schedule: { enabled: true, windows: [] },
      limits: { daily_cpu_minutes: 0, other_cpu_percent: 50 },
    });
    const d = donor(settings, { onBattery: true, batteryPercent: 5, otherCpuPercent: 90, idleSeconds: 0 });
    expect(d.step({ owner: { kind: 'paused', until: null } }).decision.reason).toBe('paused_by_owner');
    expect(d.step({ owner: { kind: 'finish' } }).decision.reason).toBe('finishing_by_owner');
    expect(d.step({ owner: { kind: 'none' } }).decision.reason).toBe('on_battery');
  });
});

describe('power', () => {
  const laptop = settingsWith({
    power: { run_on_battery: false, pause_below_percent: 20, resume_above_percent: 40 },
  });

  it('pauses on battery when the owner does not allow it', () => {
    const { decision } = donor(laptop).step({ onBattery: true, batteryPercent: 34 });
    expect(decision).toMatchObject({
      state: 'paused',
      reason: 'on_battery',
      text: 'Paused: on battery (34 %)',
    });
    expect(donor(laptop).step({ onBattery: true }).decision.text).toBe('Paused: on battery');
  });

  it('donates on battery when allowed, above the pause level', () => {
    const d = donor(settingsWith({ power: { ...laptop.power, run_on_battery: true } }));
    expect(d.step({ onBattery: true, batteryPercent: 50 }).decision.state).toBe('donating');
  });

  it('pauses a low battery, also on mains, until it is back at the resume level', () => {
    const d = donor(laptop);
    expect(d.step({ batteryPercent: 25 }).decision.state).toBe('donating');
    const low = d.step({ batteryPercent: 19 });
    expect(low.decision).toMatchObject({
      state: 'paused',
      reason: 'battery_low',
      text: 'Paused: battery low (19 %); resuming at 40 %',
    });
    expect(d.step({ batteryPercent: 30 }).decision.reason).toBe('battery_low');
    expect(d.step({ batteryPercent: 39.5 }).decision.reason).toBe('battery_low');
    expect(d.step({ batteryPercent: 40 }).decision.reason).toBe('donating');
  });

  it('does not flap around either level (a sweep 39 ↔ 41, then 19 ↔ 21)', () => {
    const d = donor(laptop, { batteryPercent: 15 });
    expect(d.step().decision.reason).toBe('battery_low');
    const states: string[] = [];
    let changes = 0;
    for (const level of [39, 41, 39, 41, 39, 40, 39, 41, 39]) {
      const { decision, changed } = d.step({ batteryPercent: level });
      states.push(decision.state);
      if (changed) changes++;
    }
    // Paused up to the first 41, donating from then on, whatever the wobble.
    expect(states).toEqual([
      'paused',
      'donating',
      'donating',
      'donating',
      'donating',
      ...Array(4).fill('donating'),
    ]);
    expect(changes).toBe(1);
    changes = 0;
    const around = [21, 19, 21, 19, 21, 19].map((level) => {
      const { decision, changed } = d.step({ batteryPercent: level });
      if (changed) changes++;
      return decision.state;
    });
    expect(around).toEqual(['donating', 'paused', 'paused', 'paused', 'paused', 'paused']);
    expect(changes).toBe(1);
  });

  it('keeps a gap between equal pause and resume levels', () => {
    const d = donor(settingsWith({ power: { pause_below_percent: 30, resume_above_percent: 30 } }));
    expect(d.step({ batteryPercent: 29 }).decision.text).toBe('Paused: battery low (29 %); resuming at 35 %');
    expect(d.step({ batteryPercent: 31 }).decision.state).toBe('paused');
    expect(d.step({ batteryPercent: 35 }).decision.state).toBe('donating');
  });

  it('has no battery rules without a battery (and forgets the latch)', () => {
    const d = donor(laptop);
    expect(d.step({ batteryPercent: 10 }).decision.reason).toBe('battery_low');
    expect(d.step({ batteryPercent: null }).decision.reason).toBe('donating');
    expect(d.memory.batteryLow).toBe(false);
  });

  it('says on battery before battery low', () => {
    expect(donor(laptop).step({ onBattery: true, batteryPercent: 10 }).decision.reason).toBe('on_battery');
  });

  it('the headless defaults donate on any battery', () => {
    expect(donor(HEADLESS_DEFAULT_SETTINGS).step({ onBattery: true, batteryPercent: 1 }).decision.state).toBe(
      'donating',
    );
  });
});

describe('the schedule', () => {
  const weekdays = settingsWith({
    schedule: { enabled: true, windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' }] },
  });

  function at(settings: DonorSettings, localDay: number, clock: string): PolicyDecision {
    const [hours, minutes] = clock.split(':').map(Number);
    return donor(settings, { localDay, localMinutes: hours! * 60 + minutes! }).step().decision;
  }

  it('donates inside a window and finishes outside, naming the next window', () => {
    expect(at(weekdays, FRIDAY, '12:00').state).toBe('donating');
    expect(at(weekdays, FRIDAY, '09:00').state).toBe('donating');
    const evening = at(weekdays, FRIDAY, '17:00');
    expect(evening).toMatchObject({
      state: 'finishing',
      reason: 'outside_schedule',
      text: 'Outside the schedule; the next window opens Mon 09:00',
    });
    expect(at(weekdays, 1, '08:00').text).toBe('Outside the schedule; the next window opens 09:00');
    expect(at(weekdays, 4, '20:00').text).toBe('Outside the schedule; the next window opens tomorrow 09:00');
  });

  it('runs a window whose end is before its start past midnight', () => {
    const nights = settingsWith({
      schedule: { enabled: true, windows: [{ days: [FRIDAY], start: '22:00', end: '06:00' }] },
    });
    expect(at(nights, FRIDAY, '21:59').state).toBe('finishing');
    expect(at(nights, FRIDAY, '22:00').state).toBe('donating');
    expect(at(nights, FRIDAY, '23:59').state).toBe('donating');
    expect(at(nights, 6, '00:00').state).toBe('donating');
    expect(at(nights, 6, '05:59').state).toBe('donating');
    expect(at(nights, 6, '06:00').state).toBe('finishing');
    expect(at(nights, 4, '03:00').state).toBe('finishing');
  });

  it('runs Saturday night into Sunday (the week wraps)', () => {
    const saturday = settingsWith({
      schedule: { enabled: true, windows: [{ days: [6], start: '22:00', end: '06:00' }] },
    });
    expect(at(saturday, 0, '03:00').state).toBe('donating');
    expect(at(saturday, 0, '07:00').state).toBe('finishing');
  });

  it("ends a window at '24:00' at midnight", () => {
    const evenings = settingsWith({
      schedule: { enabled: true, windows: [{ days: [FRIDAY], start: '18:00', end: '24:00' }] },
    });
    expect(at(evenings, FRIDAY, '23:59').state).toBe('donating');
    expect(at(evenings, 6, '00:00').state).toBe('finishing');
    const allDay = settingsWith({
      schedule: { enabled: true, windows: [{ days: [FRIDAY], start: '00:00', end: '24:00' }] },
    });
    expect(at(allDay, FRIDAY, '00:00').state).toBe('donating');
    expect(at(allDay, 4, '23:59').state).toBe('finishing');
  });

  it('finishes always with no windows, and is ignored when disabled', () => {
    const none = settingsWith({ schedule: { enabled: true, windows: [] } });
    expect(at(none, FRIDAY, '12:00').text).toBe('Outside the schedule (it has no windows)');
    const off = settingsWith({ schedule: { ...weekdays.schedule, enabled: false } });
    expect(at(off, 0, '03:00').state).toBe('donating');
  });

  it('comes after power and before the budget', () => {
    const settings = settingsWith({
      power: { pause_below_percent: 20 },
      schedule: { enabled: true, windows: [] },
      limits: { daily_cpu_minutes: 0 },
    });
    expect(donor(settings, { batteryPercent: 10 }).step().decision.reason).toBe('battery_low');
    expect(donor(settings, { batteryPercent: 50 }).step().decision.reason).toBe('outside_schedule');
  });
});

describe('the daily CPU budget', () => {
  const hour = settingsWith({ limits: { daily_cpu_minutes: 60 } });

  it('finishes once the day has used it', () => {
    expect(donor(hour, { cpuSecondsToday: 3599 }).step().decision.state).toBe('donating');
    expect(donor(hour, { cpuSecondsToday: 3600 }).step().decision).toMatchObject({
      state: 'finishing',
      reason: 'budget_spent',
      text: 'Daily CPU budget spent (60 of 60 min); more after midnight',
    });
  });

  it('resumes when the new day starts from zero, and has no limit when null', () => {
    const d = donor(hour, { cpuSecondsToday: 4000 });
    expect(d.step().decision.reason).toBe('budget_spent');
    expect(d.step({ cpuSecondsToday: 0 }).decision.reason).toBe('donating');
    expect(donor(HEADLESS_DEFAULT_SETTINGS, { cpuSecondsToday: 1e9 }).step().decision.state).toBe('donating');
  });

  it('comes before other programs’ load', () => {
    const settings = settingsWith({ limits: { daily_cpu_minutes: 1, other_cpu_percent: 50 } });
    expect(donor(settings, { cpuSecondsToday: 60, otherCpuPercent: 90 }).step().decision.reason).toBe(
      'budget_spent',
    );
  });
});

describe("other programs' load", () => {
  const busy = settingsWith({ limits: { other_cpu_percent: 75, memory_percent: 90 } });

  it('pauses while other programs use more CPU than allowed', () => {
    expect(donor(busy, { otherCpuPercent: 75 }).step().decision.state).toBe('donating');
    expect(donor(busy, { otherCpuPercent: 85 }).step().decision).toMatchObject({
      state: 'paused',
      reason: 'busy_cpu',
      text: 'Paused: other programs use 85 % of the CPU (over 75 %)',
    });
  });

  it('resumes only after 30 s under the limit less 10 points', () => {
    const d = donor(busy, { otherCpuPercent: 80 });
    expect(d.step().decision.reason).toBe('busy_cpu');
    // Under the limit but not 10 points under: paused however long.
    expect(d.advance(60_000, { otherCpuPercent: 70 }).decision.reason).toBe('busy_cpu');
    expect(d.advance(60_000).decision.reason).toBe('busy_cpu');
    const calm = d.advance(1000, { otherCpuPercent: 60 });
    expect(calm.decision.text).toBe(
      'Paused: other programs use 60 % of the CPU; resuming in 30 s if it stays under 65 %',
    );
    expect(d.advance(CPU_CALM_MS - 1).decision.reason).toBe('busy_cpu');
    const resumed = d.advance(1);
    expect(brief(resumed.decision)).toEqual(['donating', 'donating']);
    expect(resumed.changed).toBe(true);
  });

  it('starts the 30 s again when the load comes back up meanwhile', () => {
    const d = donor(busy, { otherCpuPercent: 80 });
    d.step();
    d.advance(1000, { otherCpuPercent: 50 });
    d.advance(20_000);
    d.advance(1000, { otherCpuPercent: 70 });
    d.advance(1000, { otherCpuPercent: 50 });
    expect(d.advance(29_000).decision.reason).toBe('busy_cpu');
    expect(d.advance(1000).decision.reason).toBe('donating');
  });

  it('never pauses for CPU or memory at 100 %', () => {
    const settings = settingsWith({ limits: { other_cpu_percent: 100, memory_percent: 100 } });
    expect(donor(settings, { otherCpuPercent: 100, memoryUsedPercent: 100 }).step().decision.state).toBe(
      'donating',
    );
  });

  it('pauses on memory until it is 5 points under the limit', () => {
    const d = donor(busy, { memoryUsedPercent: 95 });
    expect(d.step().decision).toMatchObject({
      state: 'paused',
      reason: 'busy_memory',
      text: 'Paused: 95 % of memory in use (over 90 %)',
    });
    expect(d.step({ memoryUsedPercent: 87 }).decision.text).toBe(
      'Paused: 87 % of memory in use; resuming under 85 %',
    );
    expect(d.step({ memoryUsedPercent: 84 }).decision.reason).toBe('donating');
    expect(d.step({ memoryUsedPercent: 89 }).decision.reason).toBe('donating');
  });

  it('says CPU before memory', () => {
    expect(donor(busy, { otherCpuPercent: 90, memoryUsedPercent: 99 }).step().decision.reason).toBe(
      'busy_cpu',
    );
  });
});

describe('idle and the owner’s return', () => {
  const desktop = settingsWith(
    { idle: { required: true, minutes: 3, grace_seconds: 30 } },
    DESKTOP_DEFAULT_SETTINGS,
  );
  const suspending = settingsWith({ idle: { ...desktop.idle, on_activity: 'suspend' } }, desktop);

  /** A donor that has been idle long enough and is donating. */
  function donatingDonor(settings: DonorSettings) {
    const d = donor(settings, { idleSeconds: 600 });
    expect(d.step().decision.state).toBe('donating');
    return d;
  }

  it('donates while in use when idle is not required', () => {
    expect(donor(HEADLESS_DEFAULT_SETTINGS, { idleSeconds: 0 }).step().decision.state).toBe('donating');
  });

  it('counts an unknown idle time as idle', () => {
    expect(donor(desktop, { idleSeconds: null }).step().decision.state).toBe('donating');
  });

  it('waits for idle before donating', () => {
    const d = donor(desktop, { idleSeconds: 40 });
    expect(d.step().decision).toMatchObject({
      state: 'finishing',
      reason: 'waiting_for_idle',
      text: 'Waiting for idle: used 40 s ago, donating after 3 min idle',
    });
    expect(d.advance(139_000).decision.reason).toBe('waiting_for_idle');
    const started = d.advance(1000);
    expect(brief(started.decision)).toEqual(['donating', 'donating']);
    expect(started.changed).toBe(true);
  });

  it('keeps donating through a twitch (one input, then nothing)', () => {
    const d = donatingDonor(desktop);
    const back = d.advance(2000, { idleSeconds: 0 });
    expect(back.decision).toMatchObject({
      state: 'donating',
      reason: 'donating',
      text: 'Donating: the owner is back; finishing in 30 s unless it was a twitch',
    });
    expect(back.changed).toBe(false);
    expect(d.advance(5000).decision.text).toBe(
      'Donating: the owner is back; finishing in 25 s unless it was a twitch',
    );
    const end = d.advance(25_000);
    expect(brief(end.decision)).toEqual(['donating', 'donating']);
    expect(end.changed).toBe(false);
    expect(d.memory.activityStart).toBeNull();
    expect(d.advance(60_000).decision.reason).toBe('donating');
  });

  it('finishes after the grace when the owner really is back, until idle again', () => {
    const d = donatingDonor(desktop);
    d.advance(2000, { idleSeconds: 0 });
    d.advance(10_000, { idleSeconds: 1 });
    expect(d.advance(19_000).decision.state).toBe('donating');
    const back = d.advance(1000);
    expect(back.decision).toMatchObject({
      state: 'finishing',
      reason: 'user_active',
      text: 'In use: finishing the running jobs; donating after 3 min idle (used 21 s ago)',
    });
    expect(back.changed).toBe(true);
    expect(d.advance(60_000, { idleSeconds: 2 }).decision.reason).toBe('user_active');
    expect(d.advance(177_000).decision.reason).toBe('user_active');
    expect(d.advance(1000).decision.reason).toBe('donating');
  });

  it('suspends after the grace when on_activity is suspend', () => {
    const d = donatingDonor(suspending);
    expect(d.advance(1000, { idleSeconds: 0 }).decision.text).toContain('pausing in 30 s');
    d.advance(5000, { idleSeconds: 0 });
    const back = d.advance(25_000);
    expect(back.decision).toMatchObject({ state: 'paused', reason: 'user_active' });
    expect(back.decision.text).toMatch(/^In use: paused; donating after 3 min idle/);
  });

  it('applies on_activity at once with no grace', () => {
    const d = donatingDonor(settingsWith({ idle: { grace_seconds: 0 } }, suspending));
    expect(brief(d.advance(1000, { idleSeconds: 0 }).decision)).toEqual(['paused', 'user_active']);
  });

  it('forgives a single input seen only after the grace (a late check)', () => {
    const d = donatingDonor(desktop);
    expect(d.advance(60_000, { idleSeconds: 40 }).decision.reason).toBe('donating');
    expect(d.memory.activityStart).toBeNull();
  });

  it('ends the grace early when the computer is idle long enough again', () => {
    const long = settingsWith({ idle: { minutes: 0.5, grace_seconds: 120 } }, desktop);
    const d = donatingDonor(long);
    d.advance(1000, { idleSeconds: 0 });
    d.advance(10_000, { idleSeconds: 0 });
    expect(d.memory.activityStart).not.toBeNull();
    expect(d.advance(30_000).decision.text).toMatch(/^Donating: up to/);
    expect(d.memory.activityStart).toBeNull();
  });

  it('drops the grace when another rule stops the donating; then waits for idle', () => {
    const d = donatingDonor(desktop);
    d.advance(1000, { idleSeconds: 0 });
    expect(d.advance(1000, { onBattery: true }).decision.reason).toBe('on_battery');
    expect(d.memory.activityStart).toBeNull();
    expect(d.advance(1000, { onBattery: false, idleSeconds: 0 }).decision.reason).toBe('waiting_for_idle');
  });

  it('keeps the owner back while another rule decides', () => {
    const d = donatingDonor(settingsWith({ idle: { grace_seconds: 0 } }, desktop));
    expect(d.advance(1000, { idleSeconds: 0 }).decision.reason).toBe('user_active');
    expect(d.advance(1000, { owner: { kind: 'paused', until: null } }).decision.reason).toBe(
      'paused_by_owner',
    );
    expect(d.advance(1000, { owner: { kind: 'none' } }).decision.reason).toBe('user_active');
    expect(d.advance(180_000).decision.reason).toBe('donating');
  });
});

describe('changes', () => {
  it('counts the first decision, then only a new state or reason, not a new figure', () => {
    const d = donor(settingsWith({ power: { pause_below_percent: 20 } }), { batteryPercent: 15 });
    expect(d.step().changed).toBe(true);
    const again = d.step({ batteryPercent: 14 });
    expect(again.changed).toBe(false);
    expect(again.decision.text).toContain('14 %');
    expect(d.step({ owner: { kind: 'paused', until: null } }).changed).toBe(true);
    expect(d.step({ owner: { kind: 'finish' } }).changed).toBe(true);
  });

  it('leaves the memory it was given alone', () => {
    const before = structuredClone(INITIAL_POLICY_MEMORY);
    const d = donor(HEADLESS_DEFAULT_SETTINGS, { otherCpuPercent: 100 });
    d.step();
    expect(INITIAL_POLICY_MEMORY).toEqual(before);
    const kept = d.memory;
    const copy = structuredClone(kept);
    decide(kept, { ...d.inputs, owner: { kind: 'finish' } }, HEADLESS_DEFAULT_SETTINGS);
    expect(kept).toEqual(copy);
  });
});

describe('nextCheckInMs', () => {
  it('is null when nothing is due', () => {
    const d = donor(HEADLESS_DEFAULT_SETTINGS);
    d.step();
    expect(nextCheckInMs(d.memory, d.inputs, HEADLESS_DEFAULT_SETTINGS)).toBeNull();
  });

  it("is the end of the owner's pause", () => {
    const d = donor(HEADLESS_DEFAULT_SETTINGS);
    d.step({ owner: { kind: 'paused', until: T0 + 90_000 } });
    expect(nextCheckInMs(d.memory, d.inputs, HEADLESS_DEFAULT_SETTINGS)).toBe(90_000);
  });

  it('is the end of the grace, or the end of the 30 s of calm', () => {
    const desktop = settingsWith({ idle: { required: true } }, DESKTOP_DEFAULT_SETTINGS);
    const d = donor(desktop, { idleSeconds: 600 });
    d.step();
    d.advance(5000, { idleSeconds: 2 });
    expect(nextCheckInMs(d.memory, d.inputs, desktop)).toBe(28_000);
    const busy = settingsWith({ limits: { other_cpu_percent: 50 } });
    const b = donor(busy, { otherCpuPercent: 90 });
    b.step();
    b.advance(1000, { otherCpuPercent: 10 });
    b.advance(12_000);
    expect(nextCheckInMs(b.memory, b.inputs, busy)).toBe(18_000);
  });

  it('is when the idle wait ends', () => {
    const desktop = settingsWith({ idle: { required: true } }, DESKTOP_DEFAULT_SETTINGS);
    const d = donor(desktop, { idleSeconds: 40 });
    d.step();
    expect(nextCheckInMs(d.memory, d.inputs, desktop)).toBe(140_000);
  });

  it('is the next schedule boundary, to the second', () => {
    const settings = settingsWith({
      schedule: { enabled: true, windows: [{ days: [FRIDAY], start: '12:30', end: '13:00' }] },
    });
    const d = donor(settings);
    d.advance(15_000);
    expect(nextCheckInMs(d.memory, d.inputs, settings)).toBe(30 * 60_000 - 15_000);
    d.advance(30 * 60_000 - 15_000);
    expect(d.memory.last?.state).toBe('donating');
    expect(nextCheckInMs(d.memory, d.inputs, settings)).toBe(30 * 60_000);
  });

  it('is midnight for a spent budget', () => {
    const settings = settingsWith({ limits: { daily_cpu_minutes: 10 } });
    const d = donor(settings, { localMinutes: 23 * 60, cpuSecondsToday: 600 });
    d.step();
    expect(nextCheckInMs(d.memory, d.inputs, settings)).toBe(60 * 60_000);
  });
});
