import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { DESKTOP_DEFAULT_SETTINGS, DonorSettingsSchema } from '../shared/donor.js';
import { fieldErrors, summariseFields } from './field-errors.js';

const errorsOf = (value: unknown) => {
  const result = v.safeParse(DonorSettingsSchema, value);
  return result.success ? {} : fieldErrors(result.issues);
};

const settings = structuredClone(DESKTOP_DEFAULT_SETTINGS);

describe('fieldErrors', () => {
  it('is empty for the defaults', () => {
    expect(errorsOf(settings)).toEqual({});
  });

  it.each([
    ['limits.max_jobs', 0, 'must be at least 1'],
    ['limits.max_jobs', 1.5, 'must be a whole number'],
    ['limits.max_jobs', Number.NaN, 'must be a number'],
    ['limits.memory_mb', 2_000_000, 'must be at most 1048576'],
    ['limits.cpu_cores', 0, 'must be at least 0.1'],
    ['power.resume_above_percent', 120, 'must be at most 100'],
    ['power.pause_below_percent', 50, undefined],
    ['idle.on_activity', 'stop', 'must be ("finish" | "suspend"), not "stop"'],
    ['idle.minutes', undefined, 'is required'],
  ])('%s = %s: %s', (path, value, message) => {
    const changed = structuredClone(settings) as unknown as Record<string, Record<string, unknown>>;
    const [group, key] = path.split('.') as [string, string];
    (changed[group] as Record<string, unknown>)[key] = value;
    expect(errorsOf(changed)).toEqual(
      // Pausing below 50 % while resuming above 40 %: the resume level is the one that is wrong.
      message === undefined
        ? { 'power.resume_above_percent': 'must be at least pause_below_percent (50)' }
        : { [path]: message },
    );
  });

  it('names the schedule window and field', () => {
    const changed = structuredClone(settings);
    changed.schedule.windows = [{ days: [], start: '9:00', end: '17:00' }];
    expect(errorsOf(changed)).toEqual({
      'schedule.windows.0.days': 'pick at least one',
      'schedule.windows.0.start': 'must be a time HH:MM',
    });
  });

  it('names an unknown setting', () => {
    expect(errorsOf({ ...settings, colour: 'blue' })).toEqual({ colour: 'is not a setting' });
  });

  it('summarises fields in one line', () => {
    expect(summariseFields({ 'limits.max_jobs': 'must be at least 1', '': 'is broken' })).toBe(
      'limits.max_jobs must be at least 1; is broken',
    );
  });
});
