// The donor policy: pure. From what the machine is doing (activity, power, time, load, memory),
// what the owner said (pause, finish) and the owner's settings, it decides the donor's state, its
// caps and the reason, BOINC-style. No clock, no I/O: every input is data, so it is tested on a
// fake clock. Memory between two calls (hysteresis, the grace period) is a value passed back in.
// CONTRACT (filled in by the policy work): types below are what the donor service relies on.
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
