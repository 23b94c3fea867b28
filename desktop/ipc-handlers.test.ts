import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings, saveSettings } from '../donor/settings-file.js';
import { DESKTOP_DEFAULT_SETTINGS } from '../shared/donor.js';
import { isAppPage, pageUrl } from './app-protocol.js';
import { DonorHost } from './donor-host.js';
import { FakeEngine } from './fake-engine.js';
import { INVOKE_CHANNELS } from './ipc-channels.js';
import { createIpcHandlers, IpcError } from './ipc-handlers.js';
import { nextMorning } from './pause-until.js';
import { FIXTURE_NOW } from './status-fixtures.js';
import { TokenVault } from './token-vault.js';

const root = mkdtempSync(join(tmpdir(), 'codeexec-ipc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const PAGE = pageUrl('status');

/** Handlers over a real host (settings file, vault) and a fake engine, enrolled and running. */
async function setup() {
  const dir = join(root, `app-${++dirs}`);
  const path = join(dir, 'settings.json');
  const vault = new TokenVault(join(dir, 'enrollment.json'), {
    isEncryptionAvailable: () => true,
    encryptString: (text) => Buffer.from(text).reverse(),
    decryptString: (data) => Buffer.from(data).reverse().toString(),
  });
  await vault.save({ gateway_url: 'https://gateway.example.org', token: 'rt_secret' });
  let engine: FakeEngine | null = null;
  const host = new DonorHost({
    settings: { path, load: (d) => loadSettings(path, d), save: (s) => saveSettings(path, s) },
    enrollment: vault,
    openEngine: async ({ settings }) => {
      engine = new FakeEngine(settings);
      return engine;
    },
    languages: ['python'],
  });
  await host.start();
  const opened: string[] = [];
  const handlers = createIpcHandlers(
    { ...bind(host), openWindow: (window) => opened.push(window) },
    { isTrustedSender: isAppPage, now: () => new Date(FIXTURE_NOW) },
  );
  return { handlers, engine: engine as unknown as FakeEngine, opened, path };
}

/** The host's methods as the handlers' target. */
function bind(host: DonorHost) {
  return {
    status: () => host.status(),
    settingsView: () => host.settingsView(),
    saveSettings: (settings: unknown) => host.saveSettings(settings),
    saveEnrollment: (request: Parameters<DonorHost['saveEnrollment']>[0]) => host.saveEnrollment(request),
    pause: (until: number | null) => host.pause(until),
    finish: () => host.finish(),
    resume: () => host.resume(),
  };
}

describe('IPC handlers', () => {
  it.each(INVOKE_CHANNELS)('%s refuses a frame that is not an app page', async (channel) => {
    const { handlers } = await setup();
    for (const sender of ['https://evil.example/status.html', 'file:///tmp/status.html', '']) {
      const call = handlers.invoke(channel, undefined, sender);
      await expect(call).rejects.toBeInstanceOf(IpcError);
      await expect(call).rejects.toMatchObject({ code: 'untrusted_sender' });
    }
  });

  it('refuses a channel it does not know', async () => {
    const { handlers } = await setup();
    const call = handlers.invoke('shell:open' as 'status:get', undefined, PAGE);
    await expect(call).rejects.toMatchObject({
      code: 'unknown_channel',
      message: 'no such channel: shell:open',
    });
  });

  it('pauses for an hour, until tomorrow morning, or until resumed', async () => {
    const { handlers, engine } = await setup();
    await handlers.invoke('control:pause', { preset: 'hour' }, PAGE);
    await handlers.invoke('control:pause', { preset: 'tomorrow' }, PAGE);
    const status = await handlers.invoke('control:pause', { preset: 'indefinitely' }, PAGE);
    expect(status.donor).toMatchObject({ reason: 'paused_by_owner', paused_until: null });
    expect(engine.calls).toEqual([
      'start',
      `pause ${FIXTURE_NOW + 3_600_000}`,
      `pause ${nextMorning(new Date(FIXTURE_NOW)).getTime()}`,
      'pause null',
    ]);
  });

  it.each([
    [
      'control:pause',
      { preset: 'week' },
      'control:pause: invalid message: preset must be ("hour" | "tomorrow" | "indefinitely"), not "week"',
    ],
    ['control:pause', { preset: 'hour', until: 1 }, 'control:pause: invalid message: until is not a setting'],
    ['control:pause', undefined, 'control:pause: invalid message: is required'],
    ['control:finish', { now: true }, 'control:finish: invalid message: must be undefined, not Object'],
    [
      'window:open',
      { window: 'devtools' },
      'window:open: invalid message: window must be ("status" | "settings"), not "devtools"',
    ],
  ] as const)(
    '%s refuses %j with a clear error, and the engine hears nothing',
    async (channel, payload, message) => {
      const { handlers, engine } = await setup();
      const call = handlers.invoke(channel, payload, PAGE);
      await expect(call).rejects.toMatchObject({ code: 'invalid_message' });
      await expect(call).rejects.toThrow(message);
      expect(engine.calls).toEqual(['start']);
    },
  );

  it('finishes and resumes', async () => {
    const { handlers, engine } = await setup();
    expect((await handlers.invoke('control:finish', undefined, PAGE)).donor.reason).toBe(
      'finishing_by_owner',
    );
    expect((await handlers.invoke('control:resume', undefined, PAGE)).donor.reason).toBe('donating');
    expect(engine.calls).toEqual(['start', 'finish', 'resume']);
  });

  it('answers status:get and settings:get', async () => {
    const { handlers } = await setup();
    expect((await handlers.invoke('status:get', undefined, PAGE)).setup).toBeNull();
    expect(await handlers.invoke('settings:get', undefined, pageUrl('settings'))).toMatchObject({
      settings: DESKTOP_DEFAULT_SETTINGS,
      languages: ['python'],
    });
  });

  it('settings:save refuses a bad value field by field, before the host sees it', async () => {
    const { handlers, engine } = await setup();
    const bad = { ...DESKTOP_DEFAULT_SETTINGS, limits: { ...DESKTOP_DEFAULT_SETTINGS.limits, max_jobs: 0 } };
    expect(await handlers.invoke('settings:save', bad, PAGE)).toEqual({
      ok: false,
      error: 'Not saved: limits.max_jobs must be at least 1',
      fields: { 'limits.max_jobs': 'must be at least 1' },
    });
    expect(await handlers.invoke('settings:save', 'all of it', PAGE)).toMatchObject({ ok: false });
    expect(engine.calls).toEqual(['start']);
    expect(await handlers.invoke('settings:save', DESKTOP_DEFAULT_SETTINGS, PAGE)).toEqual({ ok: true });
    expect(engine.calls).toEqual(['start', 'updateSettings']);
  });

  it('enrollment:save wants an http(s) gateway URL', async () => {
    const { handlers } = await setup();
    expect(
      await handlers.invoke('enrollment:save', { gateway_url: 'ftp://g.example', token: 'x' }, PAGE),
    ).toEqual({
      ok: false,
      error: 'Not saved: gateway_url must be an http:// or https:// URL',
      fields: { gateway_url: 'must be an http:// or https:// URL' },
    });
  });

  it('window:open opens the named window', async () => {
    const { handlers, opened } = await setup();
    await handlers.invoke('window:open', { window: 'settings' }, PAGE);
    expect(opened).toEqual(['settings']);
  });
});
