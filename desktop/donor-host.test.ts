import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings, saveSettings } from '../donor/settings-file.js';
import { DESKTOP_DEFAULT_SETTINGS, type DonorSettings } from '../shared/donor.js';
import type { EngineFactory } from './donor-engine.js';
import { DonorHost, DonorNotRunningError, type SettingsFile } from './donor-host.js';
import { FakeEngine } from './fake-engine.js';
import type { DesktopStatus } from './ipc-api.js';
import { FIXTURE_NOW } from './status-fixtures.js';
import { type SafeStorageLike, TokenVault } from './token-vault.js';

const root = mkdtempSync(join(tmpdir(), 'codeexec-host-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** A reversible stand-in for the OS keychain; `available: false` as on a Linux without a keyring. */
const keychain = (available = true): SafeStorageLike => ({
  isEncryptionAvailable: () => available,
  encryptString: (text) => Buffer.from(text).reverse(),
  decryptString: (data) => Buffer.from(data).reverse().toString(),
});

/** A host over a fresh data directory, the real settings file and vault, and fake engines. */
function setup(
  options: {
    enrolled?: boolean;
    settingsText?: string;
    open?: EngineFactory;
    keychain?: SafeStorageLike;
  } = {},
) {
  const dir = join(root, `app-${++dirs}`);
  const path = join(dir, 'donor', 'settings.json');
  if (options.settingsText !== undefined) {
    writeFileSync(join(mkdirp(join(dir, 'donor')), 'settings.json'), options.settingsText);
  }
  const settings: SettingsFile = {
    path,
    load: (defaults) => loadSettings(path, defaults),
    save: (value) => saveSettings(path, value),
  };
  const vault = new TokenVault(join(dir, 'enrollment.json'), options.keychain ?? keychain());
  const engines: FakeEngine[] = [];
  const open: EngineFactory =
    options.open ??
    (async ({ gatewayUrl, token, settings }) => {
      const engine = new FakeEngine(settings, gatewayUrl, token);
      engines.push(engine);
      return engine;
    });
  const host = new DonorHost({
    settings,
    enrollment: vault,
    openEngine: open,
    languages: ['python', 'go'],
    now: () => FIXTURE_NOW,
  });
  const statuses: DesktopStatus[] = [];
  host.on('status', (status) => statuses.push(status));
  const ready = options.enrolled
    ? vault.save({ gateway_url: 'https://gateway.example.org', token: 'rt_secret' })
    : Promise.resolve();
  return { host, path, vault, engines, statuses, ready };
}

function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as unknown;

describe('DonorHost', () => {
  it('first run: writes the donor-friendly defaults and asks to be set up; nothing is donated', async () => {
    const { host, path, engines } = setup();
    await host.start();
    expect(readJson(path)).toEqual(DESKTOP_DEFAULT_SETTINGS);
    expect(engines).toHaveLength(0);
    const status = host.status();
    expect(status.setup?.kind).toBe('not_enrolled');
    expect(status.donor.state).toBe('stopped');
    expect(status.donor.reason_text).toMatch(/enter the gateway address and the token/);
    expect(status.donor.log.map((entry) => entry.msg)).toContain(
      'First run: donor-friendly default settings (only when idle, not on battery)',
    );
    const view = await host.settingsView();
    expect(view).toMatchObject({
      settings: DESKTOP_DEFAULT_SETTINGS,
      source: 'defaults',
      problems: [],
      languages: ['python', 'go'],
      enrollment: { gateway_url: null, has_token: false, can_store_token: true },
    });
  });

  it('enrolled: opens the engine with the gateway, token and settings, and relays its statuses', async () => {
    const { host, engines, statuses, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    const [engine] = engines;
    expect(engine).toBeDefined();
    expect([engine?.gatewayUrl, engine?.token]).toEqual(['https://gateway.example.org', 'rt_secret']);
    expect(engine?.settings).toEqual(DESKTOP_DEFAULT_SETTINGS);
    expect(engine?.calls).toEqual(['start']);
    expect(host.status().setup).toBeNull();
    engine?.report({ running: 1, reason_text: 'one job' });
    expect(statuses.at(-1)?.donor).toMatchObject({ running: 1, reason_text: 'one job' });
    expect((await host.settingsView()).enrollment).toEqual({
      gateway_url: 'https://gateway.example.org',
      has_token: true,
      can_store_token: true,
    });
  });

  it('does not wait for start(), which waits for a Docker engine', async () => {
    const { host, engines, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    // start() has not resolved (no Docker engine yet), yet the owner's controls work.
    expect(engines[0]?.started).not.toBeNull();
    expect(host.pause(null).donor.reason).toBe('paused_by_owner');
    expect((await host.saveSettings(DESKTOP_DEFAULT_SETTINGS)).ok).toBe(true);
  });

  it('a damaged settings file: shown with its problems, left as it is, and nothing is donated', async () => {
    const damaged = JSON.stringify({
      ...DESKTOP_DEFAULT_SETTINGS,
      limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 0 },
    });
    const { host, path, engines, ready } = setup({ enrolled: true, settingsText: damaged });
    await ready;
    await host.start();
    expect(engines).toHaveLength(0);
    expect(readFileSync(path, 'utf8')).toBe(damaged);
    const status = host.status();
    expect(status.setup?.kind).toBe('settings_damaged');
    expect(status.setup?.text).toContain('limits.max_jobs: expected a value >= 1, got 0');
    expect(status.setup?.text).toContain('Nothing is donated until it is fixed');
    const view = await host.settingsView();
    expect(view.source).toBe('damaged');
    expect(view.problems).toEqual(['limits.max_jobs: expected a value >= 1, got 0']);
    // The owner saves settings from the window: the file is replaced and the donor starts.
    const mine: DonorSettings = {
      ...DESKTOP_DEFAULT_SETTINGS,
      limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 3 },
    };
    expect(await host.saveSettings(mine)).toEqual({ ok: true });
    expect(readJson(path)).toEqual(mine);
    expect(engines).toHaveLength(1);
    expect(engines[0]?.settings).toEqual(mine);
    expect(host.status().setup).toBeNull();
  });

  it('a file that is not even JSON is damaged too', async () => {
    const { host, ready } = setup({ enrolled: true, settingsText: '{ "version": 1, ' });
    await ready;
    await host.start();
    expect(host.status().setup?.kind).toBe('settings_damaged');
    expect((await host.settingsView()).problems[0]).toMatch(/not JSON/);
  });

  it('refuses invalid settings field by field, and changes nothing', async () => {
    const { host, path, engines, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    const before = readFileSync(path, 'utf8');
    const bad = {
      ...DESKTOP_DEFAULT_SETTINGS,
      limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 0, cpu_percent: 101 },
    };
    expect(await host.saveSettings(bad)).toEqual({
      ok: false,
      error: 'Not saved: limits.max_jobs must be at least 1; limits.cpu_percent must be at most 100',
      fields: { 'limits.max_jobs': 'must be at least 1', 'limits.cpu_percent': 'must be at most 100' },
    });
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(engines[0]?.calls).toEqual(['start']);
  });

  it('applies saved settings to the running engine', async () => {
    const { host, path, engines, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    const mine: DonorSettings = {
      ...DESKTOP_DEFAULT_SETTINGS,
      idle: { ...DESKTOP_DEFAULT_SETTINGS.idle, minutes: 10 },
    };
    expect(await host.saveSettings(mine)).toEqual({ ok: true });
    expect(engines[0]?.calls).toEqual(['start', 'updateSettings']);
    expect(engines[0]?.settings).toEqual(mine);
    expect(readJson(path)).toEqual(mine);
    expect((await host.settingsView()).settings).toEqual(mine);
  });

  it("forwards the owner's pause, finish and resume; finish answers before the jobs end", async () => {
    const { host, engines, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    const engine = engines[0] as FakeEngine;
    expect(host.pause(FIXTURE_NOW + 3_600_000).donor).toMatchObject({
      reason: 'paused_by_owner',
      paused_until: FIXTURE_NOW + 3_600_000,
    });
    expect(host.resume().donor.reason).toBe('donating');
    expect(host.finish().donor.reason).toBe('finishing_by_owner');
    expect(engine.finished).not.toBeNull();
    expect(engine.calls).toEqual(['start', `pause ${FIXTURE_NOW + 3_600_000}`, 'resume', 'finish']);
  });

  it('refuses controls while the donor is not running, saying why', async () => {
    const { host } = setup();
    await host.start();
    expect(() => host.pause(null)).toThrow(DonorNotRunningError);
    expect(() => host.resume()).toThrow(/enter the gateway address and the token/);
  });

  it('enrolling from the settings window starts the donor; a new token replaces the engine', async () => {
    const { host, engines, vault } = setup();
    await host.start();
    expect(await host.saveEnrollment({ gateway_url: 'https://g.example', token: null })).toEqual({
      ok: false,
      error: 'Enter the token',
      fields: { token: 'is required' },
    });
    expect(await host.saveEnrollment({ gateway_url: 'https://g.example', token: 'rt_one' })).toEqual({
      ok: true,
    });
    expect(engines.map((e) => e.token)).toEqual(['rt_one']);
    expect(await vault.load()).toEqual({ gateway_url: 'https://g.example', token: 'rt_one' });
    // Another gateway, the same token: the old engine hands its jobs back at once.
    expect(await host.saveEnrollment({ gateway_url: 'https://other.example', token: null })).toEqual({
      ok: true,
    });
    expect(engines[0]?.calls).toEqual(['start', 'close now']);
    expect(engines.map((e) => [e.gatewayUrl, e.token])).toEqual([
      ['https://g.example', 'rt_one'],
      ['https://other.example', 'rt_one'],
    ]);
  });

  it('will not store a token without encryption, and says so', async () => {
    const { host, engines } = setup({ keychain: keychain(false) });
    await host.start();
    expect((await host.settingsView()).enrollment.can_store_token).toBe(false);
    const result = await host.saveEnrollment({ gateway_url: 'https://g.example', token: 'rt_one' });
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/cannot be stored/) });
    expect(engines).toHaveLength(0);
  });

  it('a token the keychain cannot decrypt is a setup problem, not "not enrolled"', async () => {
    const { host, ready } = setup({
      enrolled: true,
      keychain: {
        ...keychain(),
        decryptString: () => {
          throw new Error('wrong key');
        },
      },
    });
    await ready;
    await host.start();
    expect(host.status().setup).toMatchObject({
      kind: 'token_unavailable',
      text: expect.stringMatching(/wrong key/),
    });
  });

  it('an engine that cannot open, or gives up, stops with the reason', async () => {
    const failing = setup({
      enrolled: true,
      open: async () => Promise.reject(new Error('data directory in use by process 4242')),
    });
    await failing.ready;
    await failing.host.start();
    expect(failing.host.status().setup).toEqual({
      kind: 'engine_failed',
      text: 'The donor could not start: data directory in use by process 4242',
    });

    const { host, engines, statuses, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    engines[0]?.fail(new Error('the gateway refused the token'));
    await host.close();
    expect(engines[0]?.calls).toEqual(['start', 'close now']);
    expect(statuses.at(-1)?.setup?.text).toMatch(/the gateway refused the token.*Settings/);
  });

  it('runs what the shell attaches beside each engine, and stops it with the engine', async () => {
    const events: string[] = [];
    const dir = join(root, `app-${++dirs}`);
    const path = join(dir, 'settings.json');
    const vault = new TokenVault(join(dir, 'enrollment.json'), keychain());
    await vault.save({ gateway_url: 'https://g.example', token: 'rt' });
    const host = new DonorHost({
      settings: { path, load: (d) => loadSettings(path, d), save: (s) => saveSettings(path, s) },
      enrollment: vault,
      openEngine: async ({ settings }) => new FakeEngine(settings),
      languages: [],
      attach: async (engine) => {
        events.push(`attached to a ${engine.status().state} engine`);
        return async () => {
          events.push('detached');
        };
      },
    });
    await host.start();
    await host.close();
    expect(events).toEqual(['attached to a donating engine', 'detached']);
  });

  it('runs without what cannot be attached', async () => {
    const dir = join(root, `app-${++dirs}`);
    const path = join(dir, 'settings.json');
    const vault = new TokenVault(join(dir, 'enrollment.json'), keychain());
    await vault.save({ gateway_url: 'https://g.example', token: 'rt' });
    const host = new DonorHost({
      settings: { path, load: (d) => loadSettings(path, d), save: (s) => saveSettings(path, s) },
      enrollment: vault,
      openEngine: async ({ settings }) => new FakeEngine(settings),
      languages: [],
      attach: async () => {
        throw new Error('another donor answers on control.sock');
      },
    });
    await host.start();
    expect(host.status().setup).toBeNull();
    expect(host.status().donor.log.at(-1)?.msg).toBe(
      'Running without the control socket: another donor answers on control.sock',
    );
  });

  it('close drains the engine', async () => {
    const { host, engines, ready } = setup({ enrolled: true });
    await ready;
    await host.start();
    await host.close();
    expect(engines[0]?.calls).toEqual(['start', 'close']);
  });
});
