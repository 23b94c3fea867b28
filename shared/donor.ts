// What a donor (the desktop app or `codeexec donor`) and its owner agree on: the settings the
// owner picks (one schema for the app and the headless donor's `settings.json`), the reasons the
// donor policy gives for each state, and the status the tray, the status window and
// `codeexec donor status --json` show.
import * as v from 'valibot';

const percent = v.pipe(v.number(), v.minValue(0), v.maxValue(100));
const clock = v.pipe(v.string(), v.regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time HH:MM'));

/** One window of the weekly schedule: on these days (0 = Sunday), from start to end (local time). */
export const ScheduleWindowSchema = v.object({
  days: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(6))), v.minLength(1)),
  start: clock,
  end: clock,
});

export const DonorSettingsSchema = v.strictObject({
  version: v.literal(1),
  idle: v.strictObject({
    /** Donate only when nobody used the computer for `minutes`. */
    required: v.boolean(),
    minutes: v.pipe(v.number(), v.minValue(0), v.maxValue(1440)),
    /** After the owner comes back, how long before `on_activity` applies (a mouse twitch is not a return). */
    grace_seconds: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600)),
    /** `finish`: let running jobs end, take no new ones; `suspend`: hand running jobs back now. */
    on_activity: v.picklist(['finish', 'suspend']),
  }),
  power: v.pipe(
    v.strictObject({
      run_on_battery: v.boolean(),
      /** Stop below this battery level (also on mains power)… */
      pause_below_percent: percent,
      /** …and start again only once it is back above this one (hysteresis). */
      resume_above_percent: percent,
    }),
    // Hysteresis needs the resume level at or above the pause level (the policy widens an equal pair).
    v.forward(
      v.partialCheck(
        [['pause_below_percent'], ['resume_above_percent']],
        (power) => power.resume_above_percent >= power.pause_below_percent,
        ({ input }) =>
          `expected at least pause_below_percent (${input.pause_below_percent}), got ${input.resume_above_percent}`,
      ),
      ['resume_above_percent'],
    ),
  ),
  schedule: v.strictObject({
    /** When enabled, donate only inside one of the windows. */
    enabled: v.boolean(),
    windows: v.pipe(v.array(ScheduleWindowSchema), v.maxLength(64)),
  }),
  limits: v.strictObject({
    /** Jobs at once. */
    max_jobs: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64)),
    /** Cores the donated work may use in all, and what share of each: cores × percent / 100 CPUs. */
    cpu_cores: v.pipe(v.number(), v.minValue(0.1), v.maxValue(256)),
    cpu_percent: v.pipe(v.number(), v.minValue(1), v.maxValue(100)),
    /** The most memory one job gets, MiB. */
    memory_mb: v.pipe(v.number(), v.integer(), v.minValue(64), v.maxValue(1_048_576)),
    /** Languages offered (canonical names); null: every one this machine has. */
    languages: v.nullable(
      v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(32))), v.maxLength(64)),
    ),
    /** CPU time donated per day, minutes; null: no budget. */
    daily_cpu_minutes: v.nullable(v.pipe(v.number(), v.minValue(0), v.maxValue(1440 * 256))),
    /** Pause while other programs use more than this share of the CPU (100: never). */
    other_cpu_percent: percent,
    /** Pause while memory in use (by everything) is above this share (100: never). */
    memory_percent: percent,
  }),
});
export type DonorSettings = v.InferOutput<typeof DonorSettingsSchema>;

const anyDay = [0, 1, 2, 3, 4, 5, 6];

/** The desktop app's first run: donor-friendly (only when idle, not on battery). */
export const DESKTOP_DEFAULT_SETTINGS: DonorSettings = {
  version: 1,
  idle: { required: true, minutes: 3, grace_seconds: 30, on_activity: 'finish' },
  power: { run_on_battery: false, pause_below_percent: 20, resume_above_percent: 40 },
  schedule: { enabled: false, windows: [{ days: anyDay, start: '00:00', end: '24:00' }] },
  limits: {
    max_jobs: 1,
    cpu_cores: 1,
    cpu_percent: 100,
    memory_mb: 512,
    languages: null,
    daily_cpu_minutes: null,
    other_cpu_percent: 75,
    memory_percent: 90,
  },
};

/** A headless donor with no settings file donates at once: there is no user at it to wait for. */
export const HEADLESS_DEFAULT_SETTINGS: DonorSettings = {
  ...DESKTOP_DEFAULT_SETTINGS,
  idle: { ...DESKTOP_DEFAULT_SETTINGS.idle, required: false },
  power: {
    ...DESKTOP_DEFAULT_SETTINGS.power,
    run_on_battery: true,
    pause_below_percent: 0,
    resume_above_percent: 0,
  },
  limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 2, other_cpu_percent: 100, memory_percent: 100 },
};

/** Why the donor is in its state; each has a sentence for people (DONOR_REASON_TEXT). */
export const DonorReasonSchema = v.picklist([
  'donating',
  'waiting_for_idle',
  'user_active',
  'on_battery',
  'battery_low',
  'outside_schedule',
  'budget_spent',
  'busy_cpu',
  'busy_memory',
  'paused_by_owner',
  'finishing_by_owner',
  'starting',
  'stopped',
]);
export type DonorReason = v.InferOutput<typeof DonorReasonSchema>;

/**
 * What the donor does: `donating` takes work; `finishing` lets running jobs end and takes no new
 * ones; `paused` holds nothing (suspend-now handed running jobs back) and takes nothing.
 */
export const DonorStateSchema = v.picklist(['starting', 'donating', 'finishing', 'paused', 'stopped']);
export type DonorState = v.InferOutput<typeof DonorStateSchema>;

export const ConnectionStatusSchema = v.object({
  state: v.picklist(['connecting', 'connected', 'retrying', 'refused']),
  gateway: v.string(),
  /** When retrying: the next attempt, ms from `at` of the status. */
  retry_in_ms: v.optional(v.number()),
  /** When refused: why (a bad token). */
  message: v.optional(v.string()),
});

export const DonorJobSchema = v.object({
  id: v.string(),
  lang: v.string(),
  /** Epoch ms. */
  started_at: v.number(),
});

export const DonorLogEntrySchema = v.object({
  at: v.number(),
  level: v.picklist(['debug', 'info', 'warn', 'error']),
  msg: v.string(),
});

/** The donor's status: `codeexec donor status --json`, and what the app's windows show. */
export const DonorStatusSchema = v.object({
  /** Epoch ms when taken. */
  at: v.number(),
  state: DonorStateSchema,
  reason: DonorReasonSchema,
  /** The reason as a sentence (with figures: "on battery (34 %)", "paused until 14:00"). */
  reason_text: v.string(),
  /** Jobs running now. */
  running: v.number(),
  jobs: v.array(DonorJobSchema),
  jobs_done: v.number(),
  jobs_today: v.number(),
  cpu_seconds: v.number(),
  cpu_seconds_today: v.number(),
  /** A pause by the owner: until when (epoch ms), null for indefinitely; absent when not paused. */
  paused_until: v.optional(v.nullable(v.number())),
  connection: ConnectionStatusSchema,
  /** The Docker engine: null when it answers, else how to fix it. */
  engine_problem: v.nullable(v.string()),
  caps: v.object({
    slots: v.number(),
    cpus: v.number(),
    memory_mb: v.number(),
    languages: v.nullable(v.array(v.string())),
  }),
  log: v.array(DonorLogEntrySchema),
});
export type DonorStatus = v.InferOutput<typeof DonorStatusSchema>;
