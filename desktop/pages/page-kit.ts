/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// What both windows' scripts share: the bridge the preload put on `window`, the pages' element
// helpers (shared/dom.ts) and the error line at the bottom of a window.
import { byId } from '../../shared/dom.js';
import { BRIDGE_KEY, type DesktopBridge } from '../bridge.js';

export function bridge(): DesktopBridge {
  const found = (window as unknown as Record<string, DesktopBridge | undefined>)[BRIDGE_KEY];
  if (!found) throw new Error('This page only works inside the codeexec app.');
  return found;
}

export { byId, h } from '../../shared/dom.js';

/** Shows `message` in the window's alert line (or hides it, for null). */
export function showError(message: string | null): void {
  const line = byId('error');
  line.textContent = message ?? '';
  line.hidden = message === null;
}

/** An IPC error reads "Error invoking remote method 'x': IpcError: …": keep what the owner needs. */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^Error invoking remote method '[^']*': (\w*Error: )?/, '');
}
