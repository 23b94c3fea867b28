/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// What both windows' scripts share: the bridge the preload put on `window`, typed element
// lookups, a small element builder (text only: never innerHTML, nothing a status says is markup)
// and the error line at the bottom of a window.
import { BRIDGE_KEY, type DesktopBridge } from '../bridge.js';

export function bridge(): DesktopBridge {
  const found = (window as unknown as Record<string, DesktopBridge | undefined>)[BRIDGE_KEY];
  if (!found) throw new Error('This page only works inside the codeexec app.');
  return found;
}

/** The element with `id`, which the page's HTML must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

type Child = Node | string | null | undefined | false;

/** An element with attributes (`class`, `data-*`, …) and children; strings become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, '');
    else if (typeof value === 'string') element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

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
