// The tray's menu as plain data (label, enabled, the action a click runs), built from a status:
// the shell turns it into an Electron Menu and maps each action to a call. Rebuilt on every
// status and every second (the "retrying in 8 s" countdown); the shell skips identical models.
import type { DesktopStatus } from './ipc-api.js';
import { describeUntil, nextMorning } from './pause-until.js';
import { controls, statusLine } from './status-summary.js';

export type MenuAction =
  | 'open-status'
  | 'open-settings'
  | 'pause-hour'
  | 'pause-tomorrow'
  | 'pause-indefinitely'
  | 'finish'
  | 'resume'
  | 'toggle-start-at-login'
  | 'quit';

export type MenuItemModel =
  | { type: 'item'; label: string; enabled: boolean; action: MenuAction }
  | { type: 'check'; label: string; checked: boolean; action: MenuAction }
  | { type: 'separator' };

/** `startAtLogin`: whether the app starts at login; null where it cannot (the item is left out). */
export function trayMenu(
  status: DesktopStatus,
  now: number,
  startAtLogin: boolean | null = null,
): MenuItemModel[] {
  const can = controls(status);
  const setupKind = status.setup?.kind;
  // The status line opens where the owner can act on it.
  const lineAction: MenuAction =
    setupKind === 'not_enrolled' || setupKind === 'settings_damaged' || setupKind === 'token_unavailable'
      ? 'open-settings'
      : 'open-status';
  const item = (label: string, action: MenuAction, enabled = true): MenuItemModel => ({
    type: 'item',
    label,
    enabled,
    action,
  });
  const separator: MenuItemModel = { type: 'separator' };
  return [
    item(statusLine(status, now), lineAction),
    separator,
    item('Pause for 1 hour', 'pause-hour', can.pause),
    item(
      `Pause until ${describeUntil(nextMorning(new Date(now)).getTime(), new Date(now))}`,
      'pause-tomorrow',
      can.pause,
    ),
    item('Pause until I resume', 'pause-indefinitely', can.pause),
    item('Finish current jobs, then pause', 'finish', can.finish),
    item('Resume', 'resume', can.resume),
    separator,
    item('Status…', 'open-status'),
    item('Settings…', 'open-settings'),
    ...(startAtLogin === null
      ? []
      : [
          {
            type: 'check',
            label: 'Start at login',
            checked: startAtLogin,
            action: 'toggle-start-at-login',
          } as const,
        ]),
    separator,
    item('Quit', 'quit'),
  ];
}

/** The tray icon's tooltip: the app and its status line. */
export function trayTooltip(status: DesktopStatus, now: number): string {
  return `codeexec — ${statusLine(status, now)}`;
}
