// How a status reads for the owner: the one-line summary the tray shows (and the status window's
// headline), its tone (the colour of the tray icon and of the status chip), and which owner
// controls apply now. Plain data in, plain data out: the tray and the status page both use it.
import type { DonorReason } from '../shared/donor.js';
import type { DesktopStatus, SetupProblem } from './ipc-api.js';
import { describeUntil } from './pause-until.js';

/** `problem`: the owner should look; `owner`: paused or finishing because the owner said so. */
export type Tone = 'donating' | 'waiting' | 'owner' | 'problem' | 'stopped';

export interface Controls {
  pause: boolean;
  finish: boolean;
  resume: boolean;
}

const SETUP_LINES: Record<SetupProblem['kind'], string> = {
  not_enrolled: 'Not set up yet — enter the gateway and token',
  settings_damaged: 'Settings file damaged — open Settings',
  token_unavailable: 'Token cannot be read — open Settings',
  engine_failed: 'The donor could not start — see Status',
};

/** Why the donor waits, read after "Paused: " or "Finishing jobs: ". */
const WAITING: Partial<Record<DonorReason, string>> = {
  user_active: 'you are using the computer',
  on_battery: 'on battery',
  battery_low: 'battery low',
  outside_schedule: 'outside the schedule',
  budget_spent: "today's CPU budget is spent",
  busy_cpu: 'the computer is busy',
  busy_memory: 'memory is nearly full',
};

/** The tray's status line: "Donating — 2 jobs", "Paused: on battery", "Waiting for idle"… */
export function statusLine(status: DesktopStatus, now: number): string {
  if (status.setup) return SETUP_LINES[status.setup.kind];
  const donor = status.donor;
  if (donor.engine_problem !== null) return 'Docker engine not available — how to fix';
  const connection = donor.connection;
  if (connection.state === 'refused') return 'Gateway refused this computer — open Settings';
  if (donor.reason === 'paused_by_owner') {
    const until = donor.paused_until;
    return typeof until === 'number'
      ? `Paused until ${describeUntil(until, new Date(now))}`
      : 'Paused until you resume';
  }
  if (donor.reason === 'finishing_by_owner') return `Finishing ${jobs(donor.running)}, then pausing`;
  if (connection.state === 'retrying') {
    const seconds = Math.ceil((donor.at + (connection.retry_in_ms ?? 0) - now) / 1000);
    return seconds > 0
      ? `Gateway unreachable, retrying in ${seconds} s`
      : 'Gateway unreachable, retrying now';
  }
  switch (donor.state) {
    case 'starting':
      return 'Starting…';
    case 'stopped':
      return 'Stopped';
    case 'donating':
      if (connection.state === 'connecting') return 'Connecting to the gateway…';
      return donor.running === 0 ? 'Donating — waiting for work' : `Donating — ${jobs(donor.running)}`;
  }
  if (donor.reason === 'waiting_for_idle') return 'Waiting for idle';
  const why = WAITING[donor.reason] ?? donor.reason_text;
  return donor.state === 'finishing' ? `Finishing ${jobs(donor.running)}: ${why}` : `Paused: ${why}`;
}

export function tone(status: DesktopStatus): Tone {
  const donor = status.donor;
  if (status.setup || donor.engine_problem !== null) return 'problem';
  if (donor.connection.state === 'refused' || donor.connection.state === 'retrying') return 'problem';
  if (donor.reason === 'paused_by_owner' || donor.reason === 'finishing_by_owner') return 'owner';
  if (donor.state === 'stopped') return 'stopped';
  return donor.state === 'donating' ? 'donating' : 'waiting';
}

/** Which of the owner's controls mean something now (the others are shown disabled). */
export function controls(status: DesktopStatus): Controls {
  const donor = status.donor;
  if (status.setup || donor.state === 'stopped') return { pause: false, finish: false, resume: false };
  const paused = donor.reason === 'paused_by_owner';
  const finishing = donor.reason === 'finishing_by_owner';
  return {
    // A timed pause may be changed to another; an indefinite one only ends with Resume.
    pause: !(paused && donor.paused_until === null),
    finish: !paused && !finishing,
    resume: paused || finishing,
  };
}

function jobs(n: number): string {
  return n === 1 ? '1 job' : `${n} jobs`;
}
