// The Electron shell, run: main.ts is bundled with a fake electron module (fake-electron.ts) in
// electron's place and imported, so its wiring runs for real over the plain modules: the scheme
// and sandbox before ready, one IPC handler per channel behind the sender check, the locked-down
// settings window of a first run, the page scheme, the content policies, the tray and Quit. What
// only a real Electron can show (a real window, the OS's tray) is left to docs/desktop.md.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build as esbuild, type Plugin } from 'esbuild';
import { build as tsup } from 'tsup';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DESKTOP_DEFAULT_SETTINGS } from '../shared/donor.js';
import { desktopPages } from '../tsup.config.js';
import type * as FakeElectron from './fake-electron.js';
import type { DesktopStatus } from './ipc-api.js';
import { INVOKE_CHANNELS } from './ipc-channels.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
let root = '';
let electron: typeof FakeElectron;

const electronIsFake: Plugin = {
  name: 'fake-electron',
  setup(build) {
    build.onResolve({ filter: /^electron$/ }, () => ({ path: join(repo, 'desktop', 'fake-electron.ts') }));
  },
};

beforeAll(async () => {
  // Inside node_modules, so the bundle's external packages (dockerode, valibot…) resolve.
  const cache = join(repo, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  root = mkdtempSync(join(cache, 'codeexec-desktop-smoke-'));
  const outfile = join(root, 'main', 'main.js');
  await esbuild({
    stdin: {
      contents: "import './desktop/main.ts';\nexport * as electron from './desktop/fake-electron.ts';\n",
      resolveDir: repo,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    plugins: [electronIsFake],
    define: { __FAKE_ELECTRON_ROOT__: JSON.stringify(root) },
    outfile,
    logLevel: 'silent',
  });
  await tsup({ ...desktopPages, outDir: join(root, 'pages'), silent: true, config: false });
  ({ electron } = (await import(pathToFileURL(outfile).href)) as { electron: typeof FakeElectron });
  // start() runs once Electron is ready: done when the first window is open.
  await vi.waitFor(() => expect(electron.windows).toHaveLength(1), { timeout: 10_000 });
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const fromPage = (url: string | null) => ({ senderFrame: url === null ? null : { url } });
const invoke = (channel: string, payload?: unknown, sender: string | null = 'codeexec://app/status.html') => {
  const handler = electron.handlers.get(channel);
  if (!handler) throw new Error(`no handler for ${channel}`);
  return handler(fromPage(sender), payload);
};

describe('the Electron shell (main.ts over a fake electron)', () => {
  it('before ready: the page scheme is privileged, renderers sandboxed, one instance', () => {
    expect(electron.schemes).toEqual([{ scheme: 'codeexec', privileges: { standard: true, secure: true } }]);
    expect(electron.calls).toEqual(
      expect.arrayContaining([
        'app.enableSandbox',
        'app.requestSingleInstanceLock',
        'Menu.setApplicationMenu null',
      ]),
    );
  });

  it('a first run writes the default settings and opens the settings window, locked down', () => {
    const file = join(root, 'appData', 'codeexec-desktop', 'donor', 'settings.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(DESKTOP_DEFAULT_SETTINGS);
    expect(existsSync(join(root, 'logs', 'desktop.log'))).toBe(true);
    const [window] = electron.windows;
    expect(window?.url).toBe('codeexec://app/settings.html');
    expect(window?.shown).toBe(true);
    expect(window?.options.webPreferences).toMatchObject({
      preload: join(root, 'preload', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      devTools: false,
    });
  });

  it('handles every IPC channel, only from its own pages', async () => {
    expect([...electron.handlers.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
    const status = (await invoke('status:get')) as DesktopStatus;
    expect(status.setup?.kind).toBe('not_enrolled');
    await expect(invoke('status:get', undefined, 'https://evil.example/')).rejects.toMatchObject({
      code: 'untrusted_sender',
    });
    await expect(invoke('status:get', undefined, null)).rejects.toMatchObject({ code: 'untrusted_sender' });
    await expect(invoke('control:pause', { preset: 'hour' })).rejects.toThrow(/enter the gateway address/);
    await expect(invoke('control:pause', { preset: 'fortnight' })).rejects.toMatchObject({
      code: 'invalid_message',
    });
    expect(await invoke('settings:get', undefined, 'codeexec://app/settings.html')).toMatchObject({
      settings: DESKTOP_DEFAULT_SETTINGS,
      source: 'defaults',
    });
    await invoke('window:open', { window: 'status' });
    expect(electron.windows.map((w) => w.url)).toEqual([
      'codeexec://app/settings.html',
      'codeexec://app/status.html',
    ]);
  });

  it('serves the built pages on codeexec://app and nothing else', async () => {
    const serve = electron.protocolHandlers.get('codeexec');
    if (!serve) throw new Error('no codeexec: handler');
    const page = await serve({ url: 'codeexec://app/status.html' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain("default-src 'none'; script-src 'self'");
    expect((await serve({ url: 'codeexec://app/status-page.js' })).status).toBe(200);
    for (const url of ['codeexec://app/../main/main.js', 'codeexec://app/missing.html', 'codeexec://app/']) {
      expect((await serve({ url })).status, url).toBe(404);
    }
  });

  it('denies new windows, navigation, webviews and permissions to every web contents', () => {
    const contents = new (class {
      openHandler: (() => unknown) | null = null;
      readonly listeners = new Map<string, (event: { preventDefault(): void }) => void>();
      setWindowOpenHandler(handler: () => unknown) {
        this.openHandler = handler;
      }
      on(event: string, listener: (event: { preventDefault(): void }) => void) {
        this.listeners.set(event, listener);
      }
    })();
    electron.app.emit('web-contents-created', {}, contents);
    expect(contents.openHandler?.()).toEqual({ action: 'deny' });
    expect([...contents.listeners.keys()].sort()).toEqual([
      'will-attach-webview',
      'will-frame-navigate',
      'will-navigate',
      'will-redirect',
    ]);
    for (const listener of contents.listeners.values()) {
      let prevented = false;
      listener({ preventDefault: () => (prevented = true) });
      expect(prevented).toBe(true);
    }
    let granted: boolean | null = null;
    (electron.permissionHandlers.request as (...args: unknown[]) => void)({}, 'media', (ok: boolean) => {
      granted = ok;
    });
    expect(granted).toBe(false);
    expect((electron.permissionHandlers.check as () => boolean)()).toBe(false);
  });

  it('the tray shows the status line and the controls that apply', () => {
    const [tray] = electron.trays;
    const labels = tray?.menu?.template.map((item) =>
      item.type === 'separator' ? '---' : `${item.label}${item.enabled === false ? ' (disabled)' : ''}`,
    );
    expect(labels?.[0]).toBe('Not set up yet — enter the gateway and token');
    expect(labels).toContain('Pause for 1 hour (disabled)');
    expect(labels).toContain('Resume (disabled)');
    expect(labels?.at(-1)).toBe('Quit');
    expect(tray?.tooltip).toBe('codeexec — Not set up yet — enter the gateway and token');
  });

  it('Quit first lets the donor stop, then quits', async () => {
    const [tray] = electron.trays;
    tray?.menu?.template.find((item) => item.label === 'Quit')?.click?.();
    await vi.waitFor(() => expect(electron.calls).toContain('app quit'));
    expect(electron.calls.filter((call) => call.startsWith('app.'))).toEqual([
      'app.enableSandbox',
      'app.requestSingleInstanceLock',
      'app.quit',
      'app.quit',
    ]);
  });
});
