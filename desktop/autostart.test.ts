import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUTOSTART_FILE, autostart, desktopEntry, type LoginItems } from './autostart.js';

const root = mkdtempSync(join(tmpdir(), 'codeexec-autostart-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function loginItems() {
  const calls: unknown[] = [];
  let open = false;
  const items: LoginItems = {
    getLoginItemSettings: () => ({ openAtLogin: open }),
    setLoginItemSettings: (settings) => {
      calls.push(settings);
      open = settings.openAtLogin;
    },
  };
  return { items, calls };
}

describe('autostart', () => {
  it('on Linux: an XDG autostart entry that starts the app hidden, removed when turned off', () => {
    const dir = join(root, 'autostart');
    const { items, calls } = loginItems();
    const start = autostart({
      platform: 'linux',
      loginItems: items,
      autostartDir: dir,
      command: '/opt/codeexec/codeexec',
      args: [],
    });
    expect(start.enabled()).toBe(false);
    start.set(true);
    expect(start.enabled()).toBe(true);
    expect(readFileSync(join(dir, AUTOSTART_FILE), 'utf8')).toContain(
      'Exec=/opt/codeexec/codeexec --hidden\n',
    );
    start.set(false);
    expect(start.enabled()).toBe(false);
    expect(calls).toEqual([]);
  });

  it.each(['darwin', 'win32'] as const)('on %s: Electron login items, opened hidden', (platform) => {
    const { items, calls } = loginItems();
    const start = autostart({
      platform,
      loginItems: items,
      autostartDir: '/nowhere',
      command: 'x',
      args: [],
    });
    start.set(true);
    expect(start.enabled()).toBe(true);
    expect(calls).toEqual([{ openAtLogin: true, openAsHidden: true, args: ['--hidden'] }]);
  });

  it('quotes the command as the Desktop Entry spec wants', () => {
    expect(desktopEntry('/home/me/Apps/codeexec 1.0.AppImage', ['--hidden'])).toContain(
      'Exec="/home/me/Apps/codeexec 1.0.AppImage" --hidden\n',
    );
    expect(desktopEntry('/usr/bin/electron', ['/src/$HOME/app', '--hidden'])).toContain(
      'Exec=/usr/bin/electron "/src/\\$HOME/app" --hidden\n',
    );
  });
});
