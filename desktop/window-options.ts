// The app's windows, locked down: the BrowserWindow options (Electron's security checklist,
// https://www.electronjs.org/docs/latest/tutorial/security, in full: each item below says where
// it is met) and the policies the shell installs on each window's contents and session. Plain
// data and functions: the test asserts every option, and main.ts passes them to Electron, whose
// types check them.

export type WindowKind = 'status' | 'settings';

const SIZES: Record<WindowKind, { width: number; height: number; title: string }> = {
  status: { width: 780, height: 760, title: 'codeexec — Status' },
  settings: { width: 760, height: 820, title: 'codeexec — Settings' },
};

export function windowOptions(kind: WindowKind, preload: string, options: { devTools: boolean }) {
  const size = SIZES[kind];
  return {
    width: size.width,
    height: size.height,
    minWidth: 560,
    minHeight: 480,
    title: size.title,
    // Shown on 'ready-to-show': no white flash.
    show: false,
    autoHideMenuBar: true,
    backgroundColor: '#f5f6f8',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      // Only in a development build (app.isPackaged false).
      devTools: options.devTools,
    },
  };
}

/** Electron's checklist, item by item, and where this app meets it. */
export const SECURITY_CHECKLIST = [
  ['Only load secure content', 'pages come from the app itself (codeexec://app), never the network'],
  [
    'Do not enable Node.js integration for remote content',
    'nodeIntegration false, in workers and subframes too',
  ],
  ['Enable context isolation', 'contextIsolation true'],
  ['Enable process sandboxing', 'sandbox true, and app.enableSandbox() for every renderer'],
  ['Handle session permission requests from remote content', 'denyPermissionRequest / denyPermissionCheck'],
  ['Do not disable webSecurity', 'webSecurity true'],
  [
    'Define a Content Security Policy',
    "each page's meta CSP: default-src 'none', scripts and styles from 'self'",
  ],
  ['Do not enable allowRunningInsecureContent', 'allowRunningInsecureContent false'],
  ['Do not enable experimental features', 'experimentalFeatures false'],
  ['Do not use enableBlinkFeatures', 'never set'],
  ['<webview>: Do not use allowpopups', 'webviewTag false, and blockWebview on will-attach-webview'],
  ['<webview>: Verify options and params', 'no webview is ever attached (blockWebview)'],
  ['Disable or limit navigation', 'blockNavigation on will-navigate, will-frame-navigate and will-redirect'],
  ['Disable or limit creation of new windows', 'denyWindowOpen as the window open handler'],
  ['Do not use shell.openExternal with untrusted content', 'shell.openExternal is not used'],
  ['Use a current version of Electron', 'pinned in package.json; see docs/desktop.md on upgrading'],
  ['Validate the sender of all IPC messages', 'ipc-handlers.ts: only frames showing an app page (isAppPage)'],
  ['Avoid usage of the file:// protocol', 'the codeexec:// scheme serves a flat directory (app-protocol.ts)'],
  ['Check which fuses you can change', 'electronFuses in desktop/electron-builder.yml'],
  [
    'Do not expose Electron APIs to untrusted web content',
    'the preload exposes DesktopBridge functions only',
  ],
] as const;

/** window.open and target=_blank: never a new window. */
export function denyWindowOpen(): { action: 'deny' } {
  return { action: 'deny' };
}

/** A page never navigates: windows switch pages through IPC, links do nothing. */
export function blockNavigation(event: { preventDefault(): void }): void {
  event.preventDefault();
}

/** No <webview> is ever attached. */
export function blockWebview(event: { preventDefault(): void }): void {
  event.preventDefault();
}

/** Camera, notifications, geolocation…: the pages need none. */
export function denyPermissionRequest(
  _contents: unknown,
  _permission: string,
  grant: (ok: boolean) => void,
): void {
  grant(false);
}

export function denyPermissionCheck(): boolean {
  return false;
}
