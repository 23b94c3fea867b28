// When an owner's pause ends: "for 1 hour" is an hour from now; "until tomorrow" is 08:00 local
// time on the next morning. Between midnight and 05:00 the owner's night has not ended yet, so
// "tomorrow" is 08:00 of the same calendar day (pausing at 01:30 does not skip a whole day).
// Local wall-clock arithmetic (setDate, setHours) keeps 08:00 right across a DST change.

export const PAUSE_PRESETS = ['hour', 'tomorrow', 'indefinitely'] as const;
export type PausePreset = (typeof PAUSE_PRESETS)[number];

/** The local hour a pause "until tomorrow" ends at. */
export const MORNING_HOUR = 8;
/** Before this local hour, "tomorrow" still means the coming morning of the same date. */
const NIGHT_ENDS_HOUR = 5;
const HOUR_MS = 3_600_000;

/** The end of a pause that starts at `now`: epoch ms, or null for indefinitely. */
export function pauseUntil(preset: PausePreset, now: Date): number | null {
  switch (preset) {
    case 'hour':
      return now.getTime() + HOUR_MS;
    case 'tomorrow':
      return nextMorning(now).getTime();
    case 'indefinitely':
      return null;
  }
}

/** 08:00 local of the next morning after `now` (see the file's opening comment). */
export function nextMorning(now: Date): Date {
  const morning = new Date(now.getTime());
  if (now.getHours() >= NIGHT_ENDS_HOUR) morning.setDate(morning.getDate() + 1);
  morning.setHours(MORNING_HOUR, 0, 0, 0);
  return morning;
}

/** "14:05", "tomorrow 08:00", "Mon 08:00": when a pause ends, as the owner reads it. */
export function describeUntil(until: number, now: Date): string {
  const end = new Date(until);
  const time = `${pad(end.getHours())}:${pad(end.getMinutes())}`;
  const days = dayNumber(end) - dayNumber(now);
  if (days <= 0) return time;
  if (days === 1) return `tomorrow ${time}`;
  if (days < 7) return `${WEEKDAYS[end.getDay()]} ${time}`;
  return `${end.getDate()} ${MONTHS[end.getMonth()]} ${time}`;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Whole local calendar days since an arbitrary origin (DST-safe: built from the local date). */
function dayNumber(date: Date): number {
  return Math.round(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) / 86_400_000);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
