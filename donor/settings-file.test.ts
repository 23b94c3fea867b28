// The settings file on a real temporary directory: defaults when missing, the exact problem when
// damaged (and the file left as it was), atomic private writes, the battery levels' cross-check.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DESKTOP_DEFAULT_SETTINGS, type DonorSettings, HEADLESS_DEFAULT_SETTINGS } from '../shared/donor.js';
import { loadSettings, SettingsFileError, saveSettings } from './settings-file.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'donor-settings-'));
  file = join(dir, 'settings.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * The desktop defaults with some values changed, as JSON an owner might have written: keys are
 * dotted paths ("limits.max_jobs"); undefined removes the key.
 */
function edited(changes: Record<string, unknown>): string {
  const settings: unknown = structuredClone(DESKTOP_DEFAULT_SETTINGS);
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    const last = keys.pop()!;
    let at = settings as Record<string, unknown>;
    for (const key of keys) at = at[key] as Record<string, unknown>;
    at[last] = value;
  }
  return JSON.stringify(settings);
}

async function loadError(text: string): Promise<SettingsFileError> {
  await writeFile(file, text);
  const error = await loadSettings(file, HEADLESS_DEFAULT_SETTINGS).catch((err: unknown) => err);
  expect(error).toBeInstanceOf(SettingsFileError);
  // Reported, never repaired: the owner's file is as they left it.
  expect(await readFile(file, 'utf8')).toBe(text);
  return error as SettingsFileError;
}

describe('loadSettings', () => {
  it('gives the defaults when there is no file, and writes none', async () => {
    const loaded = await loadSettings(file, HEADLESS_DEFAULT_SETTINGS);
    expect(loaded).toEqual({ settings: HEADLESS_DEFAULT_SETTINGS, source: 'defaults' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('reads a valid file', async () => {
    const text = edited({ 'limits.max_jobs': 3 });
    await writeFile(file, text);
    const loaded = await loadSettings(file, HEADLESS_DEFAULT_SETTINGS);
    expect(loaded.source).toBe('file');
    expect(loaded.settings).toEqual({
      ...DESKTOP_DEFAULT_SETTINGS,
      limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 3 },
    });
  });

  it('names the file and the value out of range', async () => {
    const error = await loadError(edited({ 'limits.max_jobs': 0 }));
    expect(error.message).toBe(`${file}: limits.max_jobs: expected a value >= 1, got 0`);
    expect(error.file).toBe(file);
    expect(error.problems).toEqual(['limits.max_jobs: expected a value >= 1, got 0']);
  });

  it('reports a file that is not JSON, or is empty', async () => {
    expect((await loadError('{"version": 1,')).message).toMatch(new RegExp(`^${file}: not JSON \\(.+\\)$`));
    expect((await loadError('  \n')).message).toBe(`${file}: not JSON (the file is empty)`);
  });

  it('lists every problem: wrong types, unknown and missing keys, bad times', async () => {
    const error = await loadError(
      edited({
        version: 2,
        'idle.minutes': '3',
        'idle.extra': true,
        'power.run_on_battery': undefined,
        'schedule.windows.0.start': '25:00',
        'limits.memory_mb': 100.5,
        'limits.languages': [''],
      }),
    );
    expect(error.problems).toEqual([
      'version: expected 1, got 2',
      'idle.minutes: expected number, got "3"',
      'idle.extra: unknown key (not part of the schema)',
      'power.run_on_battery: missing',
      'schedule.windows.0.start: expected a time HH:MM, got "25:00"',
      'limits.memory_mb: expected an integer, got 100.5',
      'limits.languages.0: expected a length >= 1, got 0',
    ]);
    expect(error.message).toMatch(/version: expected 1, got 2; .*; and 2 more$/);
  });

  it('reports a file that holds no object', async () => {
    expect((await loadError('5')).message).toBe(`${file}: expected an object, got 5`);
  });

  it('reports a file it cannot read', async () => {
    await expect(loadSettings(dir, HEADLESS_DEFAULT_SETTINGS)).rejects.toThrow(
      new RegExp(`^${dir}: cannot be read \\(.*EISDIR`),
    );
  });

  it('refuses a resume level under the pause level', async () => {
    const error = await loadError(
      edited({ 'power.pause_below_percent': 30, 'power.resume_above_percent': 20 }),
    );
    expect(error.problems).toEqual([
      'power.resume_above_percent: expected at least pause_below_percent (30), got 20',
    ]);
  });
});

describe('saveSettings', () => {
  it('writes what loadSettings reads back, private, in a private new directory', async () => {
    const nested = join(dir, 'a', 'donor', 'settings.json');
    const settings: DonorSettings = {
      ...DESKTOP_DEFAULT_SETTINGS,
      idle: { ...DESKTOP_DEFAULT_SETTINGS.idle, minutes: 10 },
    };
    await saveSettings(nested, settings);
    expect(await loadSettings(nested, HEADLESS_DEFAULT_SETTINGS)).toEqual({ settings, source: 'file' });
    if (process.platform !== 'win32') {
      expect((await stat(nested)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'a', 'donor'))).mode & 0o777).toBe(0o700);
    }
  });

  it('replaces the file whole and leaves no temporary file', async () => {
    await saveSettings(file, DESKTOP_DEFAULT_SETTINGS);
    await saveSettings(file, HEADLESS_DEFAULT_SETTINGS);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(HEADLESS_DEFAULT_SETTINGS);
    expect(await readdir(dir)).toEqual(['settings.json']);
  });

  it('refuses invalid settings and leaves the file as it was', async () => {
    await saveSettings(file, DESKTOP_DEFAULT_SETTINGS);
    const before = await readFile(file, 'utf8');
    const bad = {
      ...DESKTOP_DEFAULT_SETTINGS,
      power: { ...DESKTOP_DEFAULT_SETTINGS.power, resume_above_percent: 10 },
    };
    await expect(saveSettings(file, bad)).rejects.toThrow(
      `${file}: not saved: power.resume_above_percent: expected at least pause_below_percent (20), got 10`,
    );
    const tooMany = {
      ...DESKTOP_DEFAULT_SETTINGS,
      limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 65 },
    };
    await expect(saveSettings(file, tooMany)).rejects.toBeInstanceOf(SettingsFileError);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(await readdir(dir)).toEqual(['settings.json']);
  });
});

describe('the defaults', () => {
  it('are valid settings', async () => {
    await saveSettings(file, DESKTOP_DEFAULT_SETTINGS);
    await saveSettings(file, HEADLESS_DEFAULT_SETTINGS);
  });
});
