// Start at login, the owner's choice (a check item in the tray menu, off until ticked). macOS and
// Windows keep login items through Electron's app.setLoginItemSettings (passed in); Linux has no
// such API in Electron, so the XDG way: a .desktop file in ~/.config/autostart. The app started
// at login gets `--hidden`: the tray only, no window.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The part of Electron's app the macOS and Windows login items use. */
export interface LoginItems {
  getLoginItemSettings(options?: { args?: string[] }): { openAtLogin: boolean };
  setLoginItemSettings(settings: { openAtLogin: boolean; openAsHidden?: boolean; args?: string[] }): void;
}

export interface Autostart {
  enabled(): boolean;
  set(on: boolean): void;
}

export const HIDDEN_FLAG = '--hidden';
export const AUTOSTART_FILE = 'codeexec-desktop.desktop';

export interface AutostartOptions {
  platform: NodeJS.Platform;
  loginItems: LoginItems;
  /** Linux: where autostart entries live, `$XDG_CONFIG_HOME/autostart` (~/.config/autostart). */
  autostartDir: string;
  /** The program to start: the AppImage ($APPIMAGE) or the installed binary. */
  command: string;
  /** Its arguments before --hidden (an unpackaged app: its directory). */
  args: readonly string[];
}

export function autostart(options: AutostartOptions): Autostart {
  const args = [...options.args, HIDDEN_FLAG];
  if (options.platform !== 'linux') {
    return {
      enabled: () => options.loginItems.getLoginItemSettings({ args }).openAtLogin,
      set: (on) => options.loginItems.setLoginItemSettings({ openAtLogin: on, openAsHidden: true, args }),
    };
  }
  const file = join(options.autostartDir, AUTOSTART_FILE);
  return {
    enabled: () => {
      try {
        return !/^Hidden=true$/m.test(readFileSync(file, 'utf8'));
      } catch {
        return false;
      }
    },
    set: (on) => {
      if (!on) {
        rmSync(file, { force: true });
        return;
      }
      mkdirSync(options.autostartDir, { recursive: true });
      writeFileSync(file, desktopEntry(options.command, args));
    },
  };
}

/** An XDG autostart entry (Desktop Entry Specification 1.5). */
export function desktopEntry(command: string, args: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=codeexec',
    'Comment=Donate spare CPU to a codeexec gateway',
    `Exec=${[command, ...args].map(quoteExec).join(' ')}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** The spec's Exec quoting: in double quotes, with ", `, $ and \ escaped; % doubled. */
function quoteExec(arg: string): string {
  const escaped = arg.replace(/["`$\\]/g, '\\$&').replace(/%/g, '%%');
  return /^[A-Za-z0-9_./:=-]+$/.test(arg) ? escaped : `"${escaped}"`;
}
