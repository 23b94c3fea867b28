import { describe, expect, it } from 'vitest';
import { desktopStatus, FIXTURE_NOW } from './status-fixtures.js';
import { type MenuItemModel, trayMenu, trayTooltip } from './tray-menu.js';

const items = (model: MenuItemModel[]) =>
  model.map((item) => {
    if (item.type === 'separator') return '---';
    if (item.type === 'check') return `[${item.checked ? 'x' : ' '}] ${item.label} → ${item.action}`;
    return `${item.label}${item.enabled ? '' : ' (disabled)'} → ${item.action}`;
  });

describe('trayMenu', () => {
  it('while donating: the status line, the pauses and finish; resume disabled', () => {
    expect(items(trayMenu(desktopStatus(), FIXTURE_NOW))).toEqual([
      'Donating — 2 jobs → open-status',
      '---',
      'Pause for 1 hour → pause-hour',
      'Pause until tomorrow 08:00 → pause-tomorrow',
      'Pause until I resume → pause-indefinitely',
      'Finish current jobs, then pause → finish',
      'Resume (disabled) → resume',
      '---',
      'Status… → open-status',
      'Settings… → open-settings',
      '---',
      'Quit → quit',
    ]);
  });

  it('paused by the owner indefinitely: only Resume among the controls', () => {
    const model = trayMenu(
      desktopStatus({ state: 'paused', reason: 'paused_by_owner', paused_until: null, running: 0 }),
      FIXTURE_NOW,
    );
    const enabled = model.flatMap((item) => (item.type === 'item' && item.enabled ? [item.action] : []));
    expect(enabled).toEqual(['open-status', 'resume', 'open-status', 'open-settings', 'quit']);
    expect(items(model)[0]).toBe('Paused until you resume → open-status');
  });

  it('after midnight, "until tomorrow" is the coming 08:00', () => {
    const night = new Date(2026, 2, 10, 1, 30).getTime();
    const labels = items(trayMenu(desktopStatus({ at: night }), night));
    expect(labels).toContain('Pause until 08:00 → pause-tomorrow');
  });

  it('a setup problem opens Settings from the status line; the engine problem opens Status', () => {
    const notEnrolled = desktopStatus(
      { state: 'stopped', reason: 'stopped' },
      { kind: 'not_enrolled', text: 'x' },
    );
    expect(items(trayMenu(notEnrolled, FIXTURE_NOW))[0]).toBe(
      'Not set up yet — enter the gateway and token → open-settings',
    );
    const noDocker = desktopStatus({ engine_problem: 'Start Docker Desktop, then wait a minute.' });
    expect(items(trayMenu(noDocker, FIXTURE_NOW))[0]).toBe(
      'Docker engine not available — how to fix → open-status',
    );
  });

  it('offers start at login as a check item where the platform can', () => {
    expect(items(trayMenu(desktopStatus(), FIXTURE_NOW, false))).toContain(
      '[ ] Start at login → toggle-start-at-login',
    );
    expect(items(trayMenu(desktopStatus(), FIXTURE_NOW, true))).toContain(
      '[x] Start at login → toggle-start-at-login',
    );
    expect(items(trayMenu(desktopStatus(), FIXTURE_NOW, null)).join()).not.toContain('Start at login');
  });

  it('the tooltip names the app and the status', () => {
    expect(trayTooltip(desktopStatus(), FIXTURE_NOW)).toBe('codeexec — Donating — 2 jobs');
  });
});
