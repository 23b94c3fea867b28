// The app's windows in a real browser: the pages are built with the build's own config
// (tsup.config.ts), served from 127.0.0.1, and opened in headless Chromium with a fake
// DesktopBridge in place of the preload's (canned statuses; every call recorded). Screenshots go
// to test-results/screenshots/ for people to look at.
/// <reference lib="dom" />
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'tsup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP_DEFAULT_SETTINGS, type DonorSettings } from '../../shared/donor.js';
import { launchChromium, SCREENSHOTS } from '../../test/browser.js';
import { desktopPages } from '../../tsup.config.js';
import type { DesktopBridge } from '../bridge.js';
import type { DesktopStatus, SettingsView } from '../ipc-api.js';
import { desktopStatus, FIXTURE_NOW } from '../status-fixtures.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; base-uri 'none'; form-action 'none'";

let dir = '';
let server: Server | null = null;
let browser: Browser | null = null;
let origin = '';
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'codeexec-pages-'));
  await build({ ...desktopPages, outDir: dir, silent: true, config: false });
  server = createServer((request, response) => {
    // Flat names only, as the app's codeexec:// scheme serves them.
    const name = new URL(request.url ?? '/', 'http://x').pathname.slice(1);
    const type = { html: 'text/html', js: 'text/javascript', css: 'text/css' }[name.split('.').pop() ?? ''];
    if (!/^[a-z-]+\.(html|js|css)$/.test(name) || type === undefined) {
      response.writeHead(404).end();
      return;
    }
    try {
      response
        .writeHead(200, { 'content-type': `${type}; charset=utf-8` })
        .end(readFileSync(join(dir, name)));
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  // Each step on its own: a failed launch must still close the server and remove the files.
  await browser?.close().catch(() => {});
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {});
});

interface Canned {
  status: DesktopStatus;
  settings?: SettingsView;
  /** What pause/finish/resume answer (default: the status unchanged). */
  answers?: Partial<Record<'pause' | 'finish' | 'resume', DesktopStatus>>;
  saveResult?: Awaited<ReturnType<DesktopBridge['saveSettings']>>;
}

/** What the page recorded: bridge calls, CSP violations, console errors. */
interface Recorded {
  calls: [string, ...unknown[]][];
  violations: string[];
}

/** A page at `path` with the fake bridge, on a clock fixed at FIXTURE_NOW. */
async function open(path: string, canned: Canned): Promise<{ page: Page; errors: string[] }> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({ viewport: { width: 780, height: 760 }, deviceScaleFactor: 1 });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  // Paused at FIXTURE_NOW: time moves only by runFor, so figures do not drift on a slow machine.
  await page.clock.install({ time: FIXTURE_NOW - 1_000 });
  await page.clock.pauseAt(FIXTURE_NOW);
  await page.addInitScript((init: Canned) => {
    const recorded: Recorded = { calls: [], violations: [] };
    const listeners = new Set<(status: DesktopStatus) => void>();
    let status = init.status;
    const w = window as unknown as Record<string, unknown>;
    w.__recorded = recorded;
    w.__push = (next: DesktopStatus) => {
      status = next;
      for (const listener of listeners) listener(next);
    };
    document.addEventListener('securitypolicyviolation', (event) => {
      recorded.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
    const answer = (kind: 'pause' | 'finish' | 'resume') => {
      status = init.answers?.[kind] ?? status;
      return status;
    };
    const bridge: DesktopBridge = {
      getStatus: async () => status,
      onStatus: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      getSettings: async () => {
        if (!init.settings) throw new Error('no settings canned');
        return init.settings;
      },
      saveSettings: async (settings) => {
        recorded.calls.push(['saveSettings', settings]);
        return init.saveResult ?? { ok: true };
      },
      saveEnrollment: async (enrollment) => {
        recorded.calls.push(['saveEnrollment', enrollment]);
        return { ok: true };
      },
      pause: async (preset) => {
        recorded.calls.push(['pause', preset]);
        return answer('pause');
      },
      finish: async () => {
        recorded.calls.push(['finish']);
        return answer('finish');
      },
      resume: async () => {
        recorded.calls.push(['resume']);
        return answer('resume');
      },
      openWindow: async (window) => {
        recorded.calls.push(['openWindow', window]);
      },
    };
    w.codeexec = bridge;
  }, canned);
  await page.goto(`${origin}/${path}`);
  return { page, errors };
}

const recorded = (page: Page) =>
  page.evaluate(() => (window as unknown as { __recorded: Recorded }).__recorded);
const push = (page: Page, status: DesktopStatus) =>
  page.evaluate((next) => (window as unknown as { __push: (s: DesktopStatus) => void }).__push(next), status);
const text = (page: Page, selector: string) => page.locator(selector).textContent();
const cells = (page: Page, selector: string) =>
  page
    .locator(selector)
    .evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll('td')].map((cell) => (cell.textContent ?? '').trim())),
    );

const pausedForAnHour = desktopStatus({
  state: 'paused',
  reason: 'paused_by_owner',
  reason_text: 'paused by you until 15:00',
  paused_until: FIXTURE_NOW + 3_600_000,
  running: 0,
  jobs: [],
});

describe('the status window', () => {
  it('shows the figures, the running jobs ticking, and the recent log', async () => {
    const { page, errors } = await open('status.html', { status: desktopStatus() });
    await expect.poll(() => text(page, '#headline')).toBe('Donating — 2 jobs');
    expect(await text(page, '#chip')).toBe('Donating');
    expect(await page.locator('#chip').getAttribute('data-tone')).toBe('donating');
    expect(await text(page, '#reason')).toBe('Donating: the computer is idle.');
    expect(await text(page, '#jobs-today')).toBe('37');
    expect(await text(page, '#jobs-total')).toBe('1,284 in all');
    expect(await text(page, '#cpu-today')).toBe('45 min');
    expect(await text(page, '#cpu-total')).toBe('14 h 45 min in all');
    expect(await text(page, '#running')).toBe('2');
    expect(await text(page, '#slots')).toBe('2 slots, 512 MiB each');
    expect(await text(page, '#connection')).toBe('Connected');
    expect(await text(page, '#gateway')).toBe('gateway.example.org');
    expect(await cells(page, '#jobs-body tr')).toEqual([
      ['job_7f3a9c2e41', 'python', '1:15'],
      ['job_0b81d4aa90', 'go', '0:04'],
    ]);
    expect((await cells(page, '#log-body tr')).map((row) => row.slice(1))).toEqual([
      ['warn', 'Job job_55c0 (rust) hit its time limit'],
      ['info', 'Job job_7f3a9c2e41 (python) started'],
      ['info', 'Connected to https://gateway.example.org'],
    ]);
    expect(await page.locator('#engine').isHidden()).toBe(true);
    expect(await page.locator('#setup').isHidden()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'desktop-status.png'), fullPage: true });

    // The clock moves: elapsed times tick without a new status.
    await page.clock.runFor(2_000);
    expect((await cells(page, '#jobs-body tr')).map((row) => row[2])).toEqual(['1:17', '0:06']);
    expect(errors).toEqual([]);
    expect((await recorded(page)).violations).toEqual([]);
  });

  it('updates live when main pushes a new status', async () => {
    const { page } = await open('status.html', { status: desktopStatus() });
    await expect.poll(() => text(page, '#headline')).toBe('Donating — 2 jobs');
    const onBattery = {
      state: 'paused',
      reason: 'on_battery',
      reason_text: 'on battery (34 %)',
      running: 0,
      jobs: [],
      jobs_today: 38,
    } as const;
    await push(page, desktopStatus({ ...onBattery, jobs: [] }));
    expect(await text(page, '#headline')).toBe('Paused: on battery');
    expect(await text(page, '#reason')).toBe('On battery (34 %).');
    expect(await page.locator('#chip').getAttribute('data-tone')).toBe('waiting');
    expect(await text(page, '#jobs-today')).toBe('38');
    expect(await page.locator('#no-jobs').isVisible()).toBe(true);
    expect(await page.locator('#jobs-table').isHidden()).toBe(true);

    await push(
      page,
      desktopStatus({
        ...onBattery,
        jobs: [],
        connection: { state: 'retrying', gateway: 'https://gateway.example.org', retry_in_ms: 8_000 },
      }),
    );
    expect(await text(page, '#headline')).toBe('Gateway unreachable, retrying in 8 s');
    expect(await page.locator('#chip').getAttribute('data-tone')).toBe('problem');
    expect(await text(page, '#connection')).toBe('Unreachable, retrying in 8 s');
    await page.clock.runFor(3_000);
    expect(await text(page, '#headline')).toBe('Gateway unreachable, retrying in 5 s');
    expect(await text(page, '#connection')).toBe('Unreachable, retrying in 5 s');

    await push(page, desktopStatus({ engine_problem: 'Start Docker Desktop, then wait a minute.' }));
    expect(await text(page, '#headline')).toBe('Docker engine not available — how to fix');
    expect(await page.locator('#engine').isVisible()).toBe(true);
    expect(await text(page, '#engine-text')).toBe('Start Docker Desktop, then wait a minute.');
  });

  it("buttons call the bridge and show the donor's answer", async () => {
    const { page } = await open('status.html', {
      status: desktopStatus(),
      answers: { pause: pausedForAnHour, resume: desktopStatus() },
    });
    await expect.poll(() => text(page, '#headline')).toBe('Donating — 2 jobs');
    expect(await page.locator('#resume').isDisabled()).toBe(true);
    await page.click('#pause-hour');
    await expect.poll(() => text(page, '#headline')).toBe('Paused until 15:00');
    expect(await page.locator('#chip').getAttribute('data-tone')).toBe('owner');
    expect(await page.locator('#finish').isDisabled()).toBe(true);
    await page.click('#resume');
    await expect.poll(() => text(page, '#headline')).toBe('Donating — 2 jobs');
    await page.click('#pause-tomorrow');
    await page.click('#resume');
    await page.click('#pause-indefinitely');
    await page.click('#resume');
    await page.click('#finish');
    await page.click('#open-settings');
    await expect.poll(async () => (await recorded(page)).calls.length).toBe(8);
    expect((await recorded(page)).calls).toEqual([
      ['pause', 'hour'],
      ['resume'],
      ['pause', 'tomorrow'],
      ['resume'],
      ['pause', 'indefinitely'],
      ['resume'],
      ['finish'],
      ['openWindow', 'settings'],
    ]);
  });

  it('shows what to do before the donor can run', async () => {
    const { page } = await open('status.html', {
      status: desktopStatus(
        { state: 'stopped', reason: 'stopped', running: 0, jobs: [], log: [] },
        {
          kind: 'not_enrolled',
          text: 'Not set up yet: enter the gateway address and the token you were given in Settings.',
        },
      ),
    });
    await expect.poll(() => text(page, '#headline')).toBe('Not set up yet — enter the gateway and token');
    expect(await text(page, '#setup-title')).toBe('Set up this computer');
    expect(await page.locator('#pause-hour').isDisabled()).toBe(true);
    await page.click('#setup-open-settings');
    await expect.poll(async () => (await recorded(page)).calls).toEqual([['openWindow', 'settings']]);
  });

  it('enforces its Content Security Policy: no inline script, no foreign script', async () => {
    const { page, errors } = await open('status.html', { status: desktopStatus() });
    await expect.poll(() => text(page, '#headline')).toBe('Donating — 2 jobs');
    expect(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')).toBe(
      CSP,
    );
    const ran = await page.evaluate(() => {
      const w = window as unknown as Record<string, unknown>;
      const inline = document.createElement('script');
      inline.textContent = 'window.__inlineRan = true';
      document.body.append(inline);
      const styled = document.createElement('div');
      styled.setAttribute('onclick', 'window.__handlerRan = true');
      document.body.append(styled);
      styled.click();
      return { inline: w.__inlineRan === true, handler: w.__handlerRan === true };
    });
    expect(ran).toEqual({ inline: false, handler: false });
    // The violation events are queued tasks: wait for both.
    await expect
      .poll(async () => (await recorded(page)).violations.filter((v) => v.startsWith('script-src')).length)
      .toBe(2);
    const violations = (await recorded(page)).violations;
    // Only the attempts above were refused: the page's own script and style load from 'self'.
    expect(violations.every((v) => v.includes('inline'))).toBe(true);
    expect(errors.filter((e) => !/Content Security Policy/.test(e))).toEqual([]);
  });
});

const view = (
  settings: DonorSettings = DESKTOP_DEFAULT_SETTINGS,
  more: Partial<SettingsView> = {},
): SettingsView => ({
  settings,
  source: 'file',
  file: '/home/ada/.config/codeexec-desktop/donor/settings.json',
  problems: [],
  languages: ['python', 'javascript', 'typescript', 'go', 'c', 'cpp', 'rust', 'java', 'ruby', 'bash'],
  enrollment: { gateway_url: 'https://gateway.example.org', has_token: true, can_store_token: true },
  ...more,
});

describe('the settings window', () => {
  it('loads the settings into the form', async () => {
    const { page, errors } = await open('settings.html', { status: desktopStatus(), settings: view() });
    await expect.poll(() => page.inputValue('input[name="limits.max_jobs"]')).toBe('1');
    expect(await page.isChecked('input[name="idle.required"]')).toBe(true);
    expect(await page.inputValue('input[name="idle.minutes"]')).toBe('3');
    expect(await page.isChecked('input[name="idle.on_activity"][value="finish"]')).toBe(true);
    expect(await page.isChecked('input[name="power.run_on_battery"]')).toBe(false);
    expect(await page.inputValue('input[name="limits.daily_cpu_minutes"]')).toBe('');
    expect(await page.isChecked('input[name="languages-mode"][value="all"]')).toBe(true);
    expect(await page.locator('#languages input').count()).toBe(10);
    expect(await page.inputValue('input[name="gateway_url"]')).toBe('https://gateway.example.org');
    expect(await page.getAttribute('input[name="token"]', 'placeholder')).toBe(
      'Stored — leave empty to keep it',
    );
    expect(await page.locator('#damaged').isHidden()).toBe(true);
    // The whole form in one window-wide picture, its save bar at the bottom where it stays.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 780, height });
    await page.screenshot({ path: join(SCREENSHOTS, 'desktop-settings.png') });
    expect(errors).toEqual([]);
    expect((await recorded(page)).violations).toEqual([]);
  });

  it('shows a bad value beside its field and does not save', async () => {
    const { page } = await open('settings.html', { status: desktopStatus(), settings: view() });
    await expect.poll(() => page.inputValue('input[name="limits.max_jobs"]')).toBe('1');
    await page.fill('input[name="limits.max_jobs"]', '0');
    await page.fill('input[name="power.pause_below_percent"]', '50');
    await page.fill('.schedule input[data-key="start"]', '9:00');
    await page.click('button[type="submit"]:has-text("Save settings")');
    expect(await text(page, '[data-error-for="limits.max_jobs"]')).toBe('must be at least 1');
    expect(await text(page, '[data-error-for="power.resume_above_percent"]')).toBe(
      'must be at least pause_below_percent (50)',
    );
    expect(await text(page, '[data-error-for="schedule.windows.0.start"]')).toBe('must be a time HH:MM');
    expect(await page.getAttribute('input[name="limits.max_jobs"]', 'aria-invalid')).toBe('true');
    expect(await text(page, '#settings-result')).toBe('Not saved: correct the marked fields.');
    await page.locator('input[name="limits.max_jobs"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'desktop-settings-error.png') });
    expect((await recorded(page)).calls).toEqual([]);

    // Corrected, the errors go as the owner types (after a first attempt, every change is checked).
    await page.fill('input[name="limits.max_jobs"]', '2');
    await page.locator('input[name="limits.max_jobs"]').dispatchEvent('change');
    expect(await page.locator('[data-error-for="limits.max_jobs"]').isHidden()).toBe(true);
  });

  it('saves exactly the settings in the form', async () => {
    const { page } = await open('settings.html', { status: desktopStatus(), settings: view() });
    await expect.poll(() => page.inputValue('input[name="limits.max_jobs"]')).toBe('1');
    await page.uncheck('input[name="idle.required"]');
    await page.fill('input[name="idle.grace_seconds"]', '45');
    await page.check('input[name="idle.on_activity"][value="suspend"]');
    await page.check('input[name="power.run_on_battery"]');
    await page.check('input[name="schedule.enabled"]');
    // The default window (every day, all day) becomes weekday evenings, and a weekend one is added.
    await page.click('.schedule tr:first-child .day:has-text("Sat")');
    await page.click('.schedule tr:first-child .day:has-text("Sun")');
    await page.fill('.schedule tr:first-child input[data-key="start"]', '18:30');
    await page.click('#add-window');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Mon")');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Tue")');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Wed")');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Thu")');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Fri")');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Sat")');
    await page.click('.schedule tr:nth-child(2) .day:has-text("Sun")');
    await page.fill('.schedule tr:nth-child(2) input[data-key="start"]', '00:00');
    await page.click('#add-window');
    await page.click('.schedule tr:nth-child(3) button.remove');
    await page.fill('input[name="limits.max_jobs"]', '3');
    await page.fill('input[name="limits.cpu_cores"]', '2.5');
    await page.fill('input[name="limits.memory_mb"]', '1024');
    await page.fill('input[name="limits.daily_cpu_minutes"]', '120');
    await page.check('input[name="languages-mode"][value="some"]');
    for (const name of ['javascript', 'typescript', 'c', 'cpp', 'rust', 'java', 'ruby', 'bash']) {
      await page.locator('#languages').getByText(name, { exact: true }).click();
    }
    await page.click('button[type="submit"]:has-text("Save settings")');
    await expect.poll(() => text(page, '#settings-result')).toBe('Saved.');
    const expected: DonorSettings = {
      version: 1,
      idle: { required: false, minutes: 3, grace_seconds: 45, on_activity: 'suspend' },
      power: { run_on_battery: true, pause_below_percent: 20, resume_above_percent: 40 },
      schedule: {
        enabled: true,
        windows: [
          { days: [1, 2, 3, 4, 5], start: '18:30', end: '24:00' },
          { days: [6, 0], start: '00:00', end: '24:00' },
        ],
      },
      limits: {
        max_jobs: 3,
        cpu_cores: 2.5,
        cpu_percent: 100,
        memory_mb: 1024,
        languages: ['python', 'go'],
        daily_cpu_minutes: 120,
        other_cpu_percent: 75,
        memory_percent: 90,
      },
    };
    expect((await recorded(page)).calls).toEqual([['saveSettings', expected]]);
  });

  it("shows main's refusal of a save beside the fields", async () => {
    const { page } = await open('settings.html', {
      status: desktopStatus(),
      settings: view(),
      saveResult: { ok: false, error: 'Not saved: EACCES: permission denied', fields: {} },
    });
    await expect.poll(() => page.inputValue('input[name="limits.max_jobs"]')).toBe('1');
    await page.click('button[type="submit"]:has-text("Save settings")');
    await expect.poll(() => text(page, '#settings-result')).toBe('Not saved: EACCES: permission denied');
  });

  it('shows a damaged settings file, problem by problem', async () => {
    const { page } = await open('settings.html', {
      status: desktopStatus(),
      settings: view(DESKTOP_DEFAULT_SETTINGS, {
        source: 'damaged',
        problems: ['limits.max_jobs: expected a value >= 1, got 0', 'idle: missing'],
      }),
    });
    await expect.poll(() => page.locator('#damaged').isVisible()).toBe(true);
    expect(await page.locator('#damaged-problems li').allInnerTexts()).toEqual([
      'limits.max_jobs: expected a value >= 1, got 0',
      'idle: missing',
    ]);
    expect(await text(page, '#damaged-file')).toBe('/home/ada/.config/codeexec-desktop/donor/settings.json');
  });

  it('checks the gateway address before it sends the enrollment', async () => {
    const { page } = await open('settings.html', {
      status: desktopStatus(),
      settings: view(DESKTOP_DEFAULT_SETTINGS, {
        enrollment: { gateway_url: null, has_token: false, can_store_token: true },
      }),
    });
    await expect
      .poll(() => page.getAttribute('input[name="token"]', 'placeholder'))
      .toBe('The token you were given');
    await page.fill('input[name="gateway_url"]', 'gateway.example.org');
    await page.fill('input[name="token"]', 'rt_9f8e7d6c');
    await page.click('button:has-text("Save gateway")');
    expect(await text(page, '[data-error-for="gateway_url"]')).toBe(
      'must be a URL like https://gateway.example',
    );
    expect((await recorded(page)).calls).toEqual([]);
    await page.fill('input[name="gateway_url"]', 'https://gateway.example.org');
    await page.click('button:has-text("Save gateway")');
    await expect.poll(() => text(page, '#enrollment-result')).toBe('Saved. The donor starts with it.');
    expect((await recorded(page)).calls).toEqual([
      ['saveEnrollment', { gateway_url: 'https://gateway.example.org', token: 'rt_9f8e7d6c' }],
    ]);
    expect(await page.inputValue('input[name="token"]')).toBe('');
  });

  it('warns when the token cannot be stored on this system', async () => {
    const { page } = await open('settings.html', {
      status: desktopStatus(),
      settings: view(DESKTOP_DEFAULT_SETTINGS, {
        enrollment: { gateway_url: null, has_token: false, can_store_token: false },
      }),
    });
    await expect.poll(() => page.locator('#token-unavailable').isVisible()).toBe(true);
    expect(await text(page, '#token-unavailable')).toMatch(/no keychain/);
  });
});
