// The app's own URL scheme for its windows, `codeexec://app/status.html`: Electron's checklist
// prefers a custom protocol to file://, which would give a page the run of the whole disk. The
// shell registers the scheme as standard and secure and answers each request through
// `resolveAppRequest`: a flat directory of built pages, names checked, nothing else served.
import { join } from 'node:path';

export const APP_SCHEME = 'codeexec';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** The pages a window may show; IPC is accepted from these and nothing else. */
export const APP_PAGES = { status: 'status.html', settings: 'settings.html' } as const;

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
  svg: 'image/svg+xml',
  map: 'application/json; charset=utf-8',
};

/** One path segment: letters, digits, dashes and dots inside, a known extension; no "..", no "/". */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.([a-z]+)$/;

export function pageUrl(page: keyof typeof APP_PAGES): string {
  return `${APP_ORIGIN}/${APP_PAGES[page]}`;
}

/** The file to answer `url` with, and its type; null (answer 404) for anything else. */
export function resolveAppRequest(
  url: string,
  pagesDir: string,
): { file: string; contentType: string } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return null;
  // The URL parser has already resolved "." and ".." segments and kept %2F encoded: a name with
  // "/" or "%" in it does not match FILE_NAME.
  const name = parsed.pathname.slice(1);
  const match = FILE_NAME.exec(name);
  const contentType = match ? CONTENT_TYPES[match[2] ?? ''] : undefined;
  if (!match || contentType === undefined) return null;
  return { file: join(pagesDir, name), contentType };
}

/** True for a frame showing one of the app's pages (the sender check of every IPC message). */
export function isAppPage(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === `${APP_SCHEME}:` &&
    parsed.host === APP_HOST &&
    Object.values(APP_PAGES).some((page) => parsed.pathname === `/${page}`)
  );
}
