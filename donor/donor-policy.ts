// The donor policy: pure. From what the machine is doing (activity, power, time, load, memory),
// what the owner said (pause, finish) and the owner's settings, it decides the donor's state, its
// caps and the reason, BOINC-style. No clock, no I/O: every input is data, so it is tested on a
// fake clock. Memory between two calls (hysteresis, the grace period) is a value passed back in.
//
// The rules, in order of precedence (the first that applies decides):
// 1. the owner: a pause (until its end) → paused; "finish" → finishing;
// 2. power: on battery when not allowed → paused; the battery under pause_below_percent → paused
//    until it is back at resume_above_percent (also on mains power; no flapping in between);
// 3. the schedule, when enabled: outside every window → finishing;
// 4. the daily CPU budget spent → finishing (until the day rolls over);
// 5. other programs' CPU over other_cpu_percent → paused until under it by 10 points for 30 s;
//    memory over memory_percent → paused until under it by 5 points;
// 6. idle, when required: not donating yet and used within idle.minutes → finishing (waiting);
//    donating and someone used the computer → a grace of grace_seconds, still donating; at its end
//    a single input (a twitch) is forgiven, anything more applies on_activity (finish or suspend)
//    until the computer is idle for idle.minutes again;
// 7. otherwise donating.
// The types down to PolicyDecision are the contract the donor service relies on.
import type { DonorReason, DonorSettings } from '../shared/donor.js';

/** What the owner said last, through the tray, the status window or `codeexec donor`. */
export type OwnerOverride =
  | { kind: 'none' }
  /** Pause now (running jobs are handed back), until `until` (epoch ms) or indefinitely (null). */
  | { kind: 'paused'; until: number | null }
  /** Finish what runs, take nothing new, until resumed. */
  | { kind: 'finish' };

export interface PolicyInputs {
  /** Epoch ms. */
  now: number;
  /** Local day of the week (0 = Sunday) and minutes since local midnight, at `now`. */
  localDay: number;
  localMinutes: number;
  /** Seconds since the last keyboard or mouse input; null when unknown (no display): idle. */
  idleSeconds: number | null;
  onBattery: boolean;
  /** null: no battery. */
  batteryPercent: number | null;
  /** CPU used by programs other than the donor's sandboxes, percent of the whole machine. */
  otherCpuPercent: number;
  /** Memory in use by everything, percent. */
  memoryUsedPercent: number;
  /** CPU seconds donated since local midnight. */
  cpuSecondsToday: number;
  owner: OwnerOverride;
}

/** What the donor does now. `finishing`: runner.finishThenPause; `paused`: runner.suspend (hand back). */
export interface PolicyDecision {
  state: 'donating' | 'finishing' | 'paused';
  reason: DonorReason;
  /** The reason as a sentence for the owner, with its figures. */
  text: string;
  caps: { slots: number; cpus: number; memory_mb: number; languages: string[] | null };
}

/**
 * What the policy remembers between two calls: the hysteresis latches, the owner's return (the
 * grace period and, after it, the wait for idle) and the last decision. Pass back what `decide`
 * returned; start from INITIAL_POLICY_MEMORY.
 */
export interface PolicyMemory {
  /** The battery went below pause_below_percent: paused until it is back at resume_above_percent. */
  readonly batteryLow: boolean;
  /** Other programs went over other_cpu_percent: paused until calm for CPU_CALM_MS. */
  readonly cpuBusy: boolean;
  /** While cpuBusy: since when (epoch ms) other programs stayed under the resume level; null: not now. */
  readonly cpuCalmSince: number | null;
  /** Memory went over memory_percent: paused until it is back under the resume level. */
  readonly memoryBusy: boolean;
  /** The owner came back while the donor was donating, at this time (epoch ms): the grace runs. */
  readonly activityStart: number | null;
  /** on_activity was applied: the owner is at the computer until idle for idle.minutes again. */
  readonly ownerBack: boolean;
  /** The last decision; null before the first. */
  readonly last: PolicyDecision | null;
}

export const INITIAL_POLICY_MEMORY: PolicyMemory = Object.freeze({
  batteryLow: false,
  cpuBusy: false,
  cpuCalmSince: null,
  memoryBusy: false,
  activityStart: null,
  ownerBack: false,
  last: null,
});

/** Other programs' CPU must stay under the resume level this long before the donor resumes. */
export const CPU_CALM_MS = 30_000;
/** Points under other_cpu_percent (memory_percent) that other programs (memory) must go to resume. */
export const CPU_RESUME_BAND = 10;
export const MEMORY_RESUME_BAND = 5;
/**
 * The smallest gap between the battery's pause and resume levels: with equal levels (30 and 30) a
 * battery wavering at 29–31 % would hand jobs back and take new ones every few seconds.
 */
export const MIN_BATTERY_BAND = 5;
/** At the end of the grace: a last input this close to the first one is the same input (a twitch). */
export const TWITCH_TOLERANCE_MS = 1000;

const MINUTES_PER_DAY = 1440;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

type Verdict = Pick<PolicyDecision, 'state' | 'reason' | 'text'>;

/** The caps the runner offers: max_jobs slots sharing cpu_cores × cpu_percent % of the CPU. */
export function capsFor(settings: DonorSettings): PolicyDecision['caps'] {
  const { limits } = settings;
  const share = (limits.cpu_cores * limits.cpu_percent) / 100 / limits.max_jobs;
  return {
    slots: limits.max_jobs,
    cpus: Math.max(0.1, Math.round(share * 100) / 100),
    memory_mb: limits.memory_mb,
    languages: limits.languages === null ? null : [...limits.languages],
  };
}

/**
 * The donor's state now, and the memory for the next call. `changed`: the state or the reason
 * differs from the last decision (the first decision is a change), so the service logs it.
 */
export function decide(
  memory: PolicyMemory,
  inputs: PolicyInputs,
  settings: DonorSettings,
): { memory: PolicyMemory; decision: PolicyDecision; changed: boolean } {
  // The latches follow their readings on every call, whichever rule decides: a battery that fell
  // to 15 % while the owner had paused the donor still holds it once the owner resumes.
  const batteryLow = batteryLatch(memory.batteryLow, inputs, settings);
  const cpu = cpuLatch(memory, inputs, settings);
  const memoryBusy = memoryLatch(memory.memoryBusy, inputs, settings);
  const latched = { ...memory, batteryLow, cpuBusy: cpu.busy, cpuCalmSince: cpu.calmSince, memoryBusy };

  const first =
    ownerRule(inputs) ??
    powerRule(latched, inputs, settings) ??
    scheduleRule(inputs, settings) ??
    budgetRule(inputs, settings) ??
    loadRule(latched, inputs, settings);
  let next: PolicyMemory;
  let verdict: Verdict;
  if (first !== null) {
    // Not donating: no grace to run. The owner stays "back" until seen idle long enough.
    verdict = first;
    next = {
      ...latched,
      activityStart: null,
      ownerBack: latched.ownerBack && !awayLongEnough(inputs, settings),
    };
  } else {
    const idle = idleRule(latched, inputs, settings);
    verdict = idle.verdict;
    next = { ...latched, activityStart: idle.activityStart, ownerBack: idle.ownerBack };
  }
  const decision: PolicyDecision = { ...verdict, caps: capsFor(settings) };
  const last = memory.last;
  const changed = last === null || last.state !== decision.state || last.reason !== decision.reason;
  return { memory: { ...next, last: decision }, decision, changed };
}

/**
 * In how many ms a change is due with no other input changing (an owner's pause ends, the grace
 * ends, other programs' CPU has been calm long enough, a schedule window opens or closes, the day
 * rolls over for a spent budget, idle reaches idle.minutes), so the service can decide again
 * exactly then; null: nothing is due. Pass the memory and inputs of the last `decide`. Readings
 * (activity, power, load, the CPU a job used) still need sampling: this only adds the timed ones.
 */
export function nextCheckInMs(
  memory: PolicyMemory,
  inputs: PolicyInputs,
  settings: DonorSettings,
): number | null {
  const due: number[] = [];
  const { now, owner } = inputs;
  if (owner.kind === 'paused' && owner.until !== null && owner.until > now) due.push(owner.until - now);
  if (memory.activityStart !== null) {
    due.push(memory.activityStart + settings.idle.grace_seconds * 1000 - now);
  }
  if (memory.cpuCalmSince !== null) due.push(memory.cpuCalmSince + CPU_CALM_MS - now);
  if (settings.schedule.enabled) {
    const boundary = nextScheduleBoundary(inputs, settings);
    if (boundary !== null) due.push(boundary);
  }
  const reason = memory.last?.reason;
  if (reason === 'budget_spent') due.push((MINUTES_PER_DAY - localMinute(inputs)) * 60_000);
  if ((reason === 'waiting_for_idle' || reason === 'user_active') && inputs.idleSeconds !== null) {
    due.push((settings.idle.minutes * 60 - inputs.idleSeconds) * 1000);
  }
  if (due.length === 0) return null;
  return Math.max(0, Math.ceil(Math.min(...due)));
}

// --- 1. The owner ---------------------------------------------------------------------------

function ownerRule(inputs: PolicyInputs): Verdict | null {
  const { owner, now } = inputs;
  if (owner.kind === 'paused') {
    if (owner.until === null)
      return { state: 'paused', reason: 'paused_by_owner', text: 'Paused until you resume' };
    if (owner.until > now) {
      return {
        state: 'paused',
        reason: 'paused_by_owner',
        text: `Paused until ${clockAhead(inputs, owner.until - now)}`,
      };
    }
    return null; // the pause has ended
  }
  if (owner.kind === 'finish') {
    return {
      state: 'finishing',
      reason: 'finishing_by_owner',
      text: 'Finishing the running jobs and taking no new ones, until you resume',
    };
  }
  return null;
}

// --- 2. Power -------------------------------------------------------------------------------

function batteryLatch(latched: boolean, inputs: PolicyInputs, settings: DonorSettings): boolean {
  const level = inputs.batteryPercent;
  if (level === null) return false;
  if (latched) return level < batteryResumeLevel(settings);
  return level < settings.power.pause_below_percent;
}

function batteryResumeLevel(settings: DonorSettings): number {
  const { pause_below_percent: pause, resume_above_percent: resume } = settings.power;
  if (pause <= 0) return 0;
  return Math.min(100, Math.max(resume, pause + MIN_BATTERY_BAND));
}

function powerRule(memory: PolicyMemory, inputs: PolicyInputs, settings: DonorSettings): Verdict | null {
  const level = inputs.batteryPercent;
  if (inputs.onBattery && !settings.power.run_on_battery) {
    const figure = level === null ? '' : ` (${percent(level)})`;
    return { state: 'paused', reason: 'on_battery', text: `Paused: on battery${figure}` };
  }
  if (memory.batteryLow && level !== null) {
    return {
      state: 'paused',
      reason: 'battery_low',
      text: `Paused: battery low (${percent(level)}); resuming at ${percent(batteryResumeLevel(settings))}`,
    };
  }
  return null;
}

// --- 3. The schedule ------------------------------------------------------------------------

/** Minutes since local midnight at `now`, with the seconds (localMinutes may come whole or exact). */
function localMinute(inputs: PolicyInputs): number {
  const { localMinutes, now } = inputs;
  // Whole minutes are taken as the clock's minute; the seconds come from `now` (time zones are
  // whole minutes off UTC).
  return Number.isInteger(localMinutes) ? localMinutes + (now % 60_000) / 60_000 : localMinutes;
}

function parseClock(clock: string): number {
  const [hours, minutes] = clock.split(':');
  return Number(hours) * 60 + Number(minutes);
}

/**
 * A window's spans in minutes of the week (0 = Sunday 00:00): one per day, from start to end; an
 * end before the start runs past midnight into the next day, and an end equal to the start is
 * 24 hours from the start. Spans may run past the week's end (Saturday night into Sunday).
 */
function windowSpans(window: DonorSettings['schedule']['windows'][number]): [number, number][] {
  const start = parseClock(window.start);
  const end = parseClock(window.end);
  const length = end > start ? end - start : end + MINUTES_PER_DAY - start;
  return window.days.map((day) => {
    const from = day * MINUTES_PER_DAY + start;
    return [from, from + length];
  });
}

function weekMinute(inputs: PolicyInputs): number {
  return inputs.localDay * MINUTES_PER_DAY + localMinute(inputs);
}

function insideSchedule(inputs: PolicyInputs, settings: DonorSettings): boolean {
  const now = weekMinute(inputs);
  return settings.schedule.windows.some((window) =>
    windowSpans(window).some(([from, to]) =>
      [now, now + MINUTES_PER_WEEK].some((minute) => minute >= from && minute < to),
    ),
  );
}

/** Minutes from now until `minute` of the week comes round (0 < result <= a week). */
function minutesUntil(inputs: PolicyInputs, minute: number): number {
  const ahead = (((minute - weekMinute(inputs)) % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  return ahead === 0 ? MINUTES_PER_WEEK : ahead;
}

function nextScheduleBoundary(inputs: PolicyInputs, settings: DonorSettings): number | null {
  const spans = settings.schedule.windows.flatMap(windowSpans);
  if (spans.length === 0) return null;
  return Math.min(...spans.flat().map((minute) => minutesUntil(inputs, minute))) * 60_000;
}

function scheduleRule(inputs: PolicyInputs, settings: DonorSettings): Verdict | null {
  if (!settings.schedule.enabled || insideSchedule(inputs, settings)) return null;
  const starts = settings.schedule.windows.flatMap(windowSpans).map(([from]) => minutesUntil(inputs, from));
  const text =
    starts.length === 0
      ? 'Outside the schedule (it has no windows)'
      : `Outside the schedule; the next window opens ${clockAhead(inputs, Math.min(...starts) * 60_000)}`;
  return { state: 'finishing', reason: 'outside_schedule', text };
}

// --- 4. The daily CPU budget ----------------------------------------------------------------

function budgetRule(inputs: PolicyInputs, settings: DonorSettings): Verdict | null {
  const budget = settings.limits.daily_cpu_minutes;
  if (budget === null || inputs.cpuSecondsToday < budget * 60) return null;
  const used = Math.floor(inputs.cpuSecondsToday / 60);
  return {
    state: 'finishing',
    reason: 'budget_spent',
    text: `Daily CPU budget spent (${used} of ${budget} min); more after midnight`,
  };
}

// --- 5. Other programs' load ----------------------------------------------------------------

function cpuResumeLevel(limit: number): number {
  return Math.max(limit - CPU_RESUME_BAND, limit / 2);
}

function memoryResumeLevel(limit: number): number {
  return Math.max(limit - MEMORY_RESUME_BAND, limit / 2);
}

function cpuLatch(
  memory: PolicyMemory,
  inputs: PolicyInputs,
  settings: DonorSettings,
): { busy: boolean; calmSince: number | null } {
  const limit = settings.limits.other_cpu_percent;
  const load = inputs.otherCpuPercent;
  if (limit >= 100) return { busy: false, calmSince: null };
  if (load > limit) return { busy: true, calmSince: null };
  if (!memory.cpuBusy) return { busy: false, calmSince: null };
  if (load >= cpuResumeLevel(limit) && load > 0) return { busy: true, calmSince: null };
  const calmSince = memory.cpuCalmSince ?? inputs.now;
  if (inputs.now - calmSince >= CPU_CALM_MS) return { busy: false, calmSince: null };
  return { busy: true, calmSince };
}

function memoryLatch(latched: boolean, inputs: PolicyInputs, settings: DonorSettings): boolean {
  const limit = settings.limits.memory_percent;
  const used = inputs.memoryUsedPercent;
  if (limit >= 100) return false;
  if (used > limit) return true;
  return latched && used >= memoryResumeLevel(limit) && used > 0;
}

function loadRule(memory: PolicyMemory, inputs: PolicyInputs, settings: DonorSettings): Verdict | null {
  const { other_cpu_percent: cpuLimit, memory_percent: memoryLimit } = settings.limits;
  if (memory.cpuBusy) {
    const load = percent(inputs.otherCpuPercent);
    let text: string;
    if (inputs.otherCpuPercent > cpuLimit) {
      text = `Paused: other programs use ${load} of the CPU (over ${percent(cpuLimit)})`;
    } else if (memory.cpuCalmSince === null) {
      text = `Paused: other programs use ${load} of the CPU; resuming once under ${percent(cpuResumeLevel(cpuLimit))} for ${duration(CPU_CALM_MS / 1000)}`;
    } else {
      const left = (memory.cpuCalmSince + CPU_CALM_MS - inputs.now) / 1000;
      text = `Paused: other programs use ${load} of the CPU; resuming in ${duration(left)} if it stays under ${percent(cpuResumeLevel(cpuLimit))}`;
    }
    return { state: 'paused', reason: 'busy_cpu', text };
  }
  if (memory.memoryBusy) {
    const used = percent(inputs.memoryUsedPercent);
    const text =
      inputs.memoryUsedPercent > memoryLimit
        ? `Paused: ${used} of memory in use (over ${percent(memoryLimit)})`
        : `Paused: ${used} of memory in use; resuming under ${percent(memoryResumeLevel(memoryLimit))}`;
    return { state: 'paused', reason: 'busy_memory', text };
  }
  return null;
}

// --- 6. Idle, and the owner's return ---------------------------------------------------------

/** Nobody used the computer for idle.minutes (an unknown idle time counts as idle). */
function awayLongEnough(inputs: PolicyInputs, settings: DonorSettings): boolean {
  return inputs.idleSeconds === null || inputs.idleSeconds >= settings.idle.minutes * 60;
}

interface IdleOutcome {
  verdict: Verdict;
  activityStart: number | null;
  ownerBack: boolean;
}

function idleRule(memory: PolicyMemory, inputs: PolicyInputs, settings: DonorSettings): IdleOutcome {
  const { idle } = settings;
  const donate = { verdict: donating(settings), activityStart: null, ownerBack: false };
  if (!idle.required || awayLongEnough(inputs, settings)) return donate;
  const idleSeconds = inputs.idleSeconds ?? 0;
  const wait = `donating after ${duration(idle.minutes * 60)} idle (used ${duration(idleSeconds)} ago)`;

  if (memory.last?.state !== 'donating') {
    if (memory.ownerBack) return { ...backVerdict(settings, wait), activityStart: null };
    return {
      verdict: {
        state: 'finishing',
        reason: 'waiting_for_idle',
        text: `Waiting for idle: used ${duration(idleSeconds)} ago, donating after ${duration(idle.minutes * 60)} idle`,
      },
      activityStart: null,
      ownerBack: false,
    };
  }

  // Donating, and someone used the computer: the grace starts at the first input seen.
  const activityStart = memory.activityStart ?? inputs.now - idleSeconds * 1000;
  if (idle.grace_seconds === 0) return { ...backVerdict(settings, wait), activityStart: null };
  const graceEnd = activityStart + idle.grace_seconds * 1000;
  if (inputs.now < graceEnd) {
    const verb = idle.on_activity === 'finish' ? 'finishing' : 'pausing';
    const left = duration(Math.ceil((graceEnd - inputs.now) / 1000));
    return {
      verdict: {
        state: 'donating',
        reason: 'donating',
        text: `Donating: the owner is back; ${verb} in ${left} unless it was a twitch`,
      },
      activityStart,
      ownerBack: false,
    };
  }
  // The grace is over. No input since the first one: a twitch (a nudge of the mouse, a cat).
  const twitch = idleSeconds * 1000 >= inputs.now - activityStart - TWITCH_TOLERANCE_MS;
  if (twitch) return donate;
  return { ...backVerdict(settings, wait), activityStart: null };
}

function backVerdict(settings: DonorSettings, wait: string): Omit<IdleOutcome, 'activityStart'> {
  const verdict: Verdict =
    settings.idle.on_activity === 'finish'
      ? { state: 'finishing', reason: 'user_active', text: `In use: finishing the running jobs; ${wait}` }
      : { state: 'paused', reason: 'user_active', text: `In use: paused; ${wait}` };
  return { verdict, ownerBack: true };
}

// --- 7. Donating ----------------------------------------------------------------------------

function donating(settings: DonorSettings): Verdict {
  const caps = capsFor(settings);
  const jobs = caps.slots === 1 ? 'up to 1 job' : `up to ${caps.slots} jobs at once`;
  return {
    state: 'donating',
    reason: 'donating',
    text: `Donating: ${jobs}, ${caps.cpus} CPU and ${caps.memory_mb} MiB each`,
  };
}

// --- Figures for people ---------------------------------------------------------------------

function percent(value: number): string {
  return `${Math.round(value)} %`;
}

/** "40 s", "3 min", "2 min 30 s", "1 h 5 min". */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest === 0 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${rest} s`;
  }
  const minutes = Math.floor((s % 3600) / 60);
  return minutes === 0 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 3600)} h ${minutes} min`;
}

/** The local clock time `ms` from now: "14:00", "tomorrow 06:00", "Sat 22:00", "09:00 in 9 days". */
function clockAhead(inputs: PolicyInputs, ms: number): string {
  // In whole ms from local midnight, so 14:00 exactly is never 13:59.999….
  const at = Math.round(localMinute(inputs) * 60_000) + Math.round(ms);
  const days = Math.floor(at / (MINUTES_PER_DAY * 60_000));
  const minute = Math.floor(at / 60_000) - days * MINUTES_PER_DAY;
  const pad = (n: number) => String(n).padStart(2, '0');
  const clock = `${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
  if (days === 0) return clock;
  if (days === 1) return `tomorrow ${clock}`;
  if (days < 7) return `${DAY_NAMES[(inputs.localDay + days) % 7]} ${clock}`;
  return `${clock} in ${days} days`;
}
