// The desktop app's Electron shell, and the only other file that imports electron: it wires the
// tested plain modules to Electron. One instance (a second launch opens the status window); a
// tray icon and menu; the status and settings windows, locked down (window-options.ts) and served
// from the codeexec:// scheme; IPC handlers that validate every message (ipc-handlers.ts); start
// at login; and Quit, which lets running jobs end (the engine drains) before the app exits.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  nativeImage,
  powerMonitor,
  protocol,
  safeStorage,
  session,
  Tray,
} from 'electron';
import { ControlSocket } from '../donor/control-socket.js';
import { DonorService } from '../donor/donor-service.js';
import { loadSettings, saveSettings } from '../donor/settings-file.js';
import { LANGUAGES } from '../shared/languages.js';
import { APP_SCHEME, isAppPage, pageUrl, resolveAppRequest } from './app-protocol.js';
import { autostart, HIDDEN_FLAG } from './autostart.js';
import { DonorHost } from './donor-host.js';
import { fileLogger } from './file-logger.js';
import type { WindowName } from './ipc-api.js';
import { INVOKE_CHANNELS, STATUS_CHANGED } from './ipc-channels.js';
import { createIpcHandlers } from './ipc-handlers.js';
import { pauseUntil } from './pause-until.js';
import { desktopProbes } from './power-probes.js';
import { type Tone, tone } from './status-summary.js';
import { TokenVault } from './token-vault.js';
import { trayIconPng } from './tray-icon.js';
import { type MenuAction, type MenuItemModel, trayMenu, trayTooltip } from './tray-menu.js';
import {
  blockNavigation,
  blockWebview,
  denyPermissionCheck,
  denyPermissionRequest,
  denyWindowOpen,
  windowOptions,
} from './window-options.js';

// dist-desktop/main/main.js: the preload and the pages are built beside it.
const here = dirname(fileURLToPath(import.meta.url));
const PRELOAD = join(here, '..', 'preload', 'preload.cjs');
const PAGES = join(here, '..', 'pages');

// Before 'ready': the page scheme is a standard, secure origin, and every renderer is sandboxed.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true } }]);
app.enableSandbox();
// The same directory whatever the package calls itself: settings, token, the donor's data.
app.setPath('userData', join(app.getPath('appData'), 'codeexec-desktop'));

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.whenReady().then(start, (err: unknown) => {
    dialog.showErrorBox('codeexec could not start', String(err));
    app.exit(1);
  });
}

async function start(): Promise<void> {
  const userData = app.getPath('userData');
  const donorDir = join(userData, 'donor');
  const log = fileLogger(
    join(app.getPath('logs'), 'desktop.log'),
    app.isPackaged ? {} : { echo: process.stdout },
  );
  log.info({ version: app.getVersion(), data: userData }, 'codeexec desktop starting');
  if (process.platform === 'darwin') app.dock?.hide();
  // macOS needs an Edit menu for copy and paste in the forms; elsewhere no menu at all.
  Menu.setApplicationMenu(
    process.platform === 'darwin'
      ? Menu.buildFromTemplate([{ role: 'appMenu' }, { role: 'editMenu' }])
      : null,
  );

  // The pages: a flat directory behind codeexec://app, nothing else.
  protocol.handle(APP_SCHEME, async (request) => {
    const found = resolveAppRequest(request.url, PAGES);
    if (!found) return new Response('Not found', { status: 404 });
    try {
      return new Response(await readFile(found.file), { headers: { 'content-type': found.contentType } });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
  session.defaultSession.setPermissionRequestHandler(denyPermissionRequest);
  session.defaultSession.setPermissionCheckHandler(denyPermissionCheck);
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(denyWindowOpen);
    contents.on('will-navigate', blockNavigation);
    contents.on('will-frame-navigate', blockNavigation);
    contents.on('will-redirect', blockNavigation);
    contents.on('will-attach-webview', blockWebview);
  });

  const vault = new TokenVault(join(userData, 'enrollment.json'), {
    isEncryptionAvailable: () => safeStorage.isEncryptionAvailable(),
    encryptString: (text) => safeStorage.encryptString(text),
    decryptString: (data) => safeStorage.decryptString(data),
    // Linux only: which keyring encrypts (basic_text: none, a key baked into Chromium).
    ...(process.platform === 'linux'
      ? { getSelectedStorageBackend: () => safeStorage.getSelectedStorageBackend() }
      : {}),
  });
  const settingsFile = join(donorDir, 'settings.json');
  let service: DonorService | null = null;
  const probes = desktopProbes(powerMonitor, { donorCpus: () => service?.busyCpus ?? 0 });
  const host = new DonorHost({
    settings: {
      path: settingsFile,
      load: (defaults) => loadSettings(settingsFile, defaults),
      save: (settings) => saveSettings(settingsFile, settings),
    },
    enrollment: vault,
    openEngine: async ({ gatewayUrl, token, settings }) => {
      service = await DonorService.open({ gatewayUrl, token, dataDir: donorDir, settings, probes, log });
      return service;
    },
    // `codeexec donor status|pause|resume|finish --data <donorDir>` reach the app's donor too.
    attach: async (engine) => {
      const socket = await ControlSocket.listen(donorDir, engine, log);
      return () => socket.close();
    },
    languages: LANGUAGES.map((language) => language.name),
    log,
  });

  const windows = new Map<WindowName, BrowserWindow>();
  const openWindow = (name: WindowName) => {
    const open = windows.get(name);
    if (open && !open.isDestroyed()) {
      open.show();
      open.focus();
      return;
    }
    const window = new BrowserWindow(windowOptions(name, PRELOAD, { devTools: !app.isPackaged }));
    windows.set(name, window);
    window.once('ready-to-show', () => window.show());
    window.on('closed', () => windows.delete(name));
    window
      .loadURL(pageUrl(name))
      .catch((err: unknown) => log.error({ window: name, err }, 'cannot show a window'));
  };

  const handlers = createIpcHandlers(
    {
      status: () => host.status(),
      settingsView: () => host.settingsView(),
      saveSettings: (settings) => host.saveSettings(settings),
      saveEnrollment: (request) => host.saveEnrollment(request),
      pause: (until) => host.pause(until),
      finish: () => host.finish(),
      resume: () => host.resume(),
      openWindow,
    },
    { isTrustedSender: isAppPage },
  );
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(channel, (event, payload: unknown) =>
      handlers.invoke(channel, payload, event.senderFrame?.url ?? ''),
    );
  }

  const login = autostart({
    platform: process.platform,
    loginItems: app,
    autostartDir: join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'autostart'),
    command: process.env.APPIMAGE ?? process.execPath,
    args: app.isPackaged ? [] : [app.getAppPath()],
  });

  const tray = new Tray(trayImage('stopped'));
  let shownTone: Tone = 'stopped';
  let shownMenu = '';
  const refreshTray = () => {
    const status = host.status();
    const now = Date.now();
    const model = trayMenu(status, now, login.enabled());
    const key = JSON.stringify(model);
    if (key !== shownMenu) {
      shownMenu = key;
      tray.setContextMenu(Menu.buildFromTemplate(model.map(menuItem)));
    }
    tray.setToolTip(trayTooltip(status, now));
    if (tone(status) !== shownTone) {
      shownTone = tone(status);
      tray.setImage(trayImage(shownTone));
    }
  };
  const run = (action: MenuAction) => {
    try {
      switch (action) {
        case 'open-status':
          return openWindow('status');
        case 'open-settings':
          return openWindow('settings');
        case 'pause-hour':
        case 'pause-tomorrow':
        case 'pause-indefinitely':
          host.pause(pauseUntil(PRESETS[action], new Date()));
          return;
        case 'finish':
          host.finish();
          return;
        case 'resume':
          host.resume();
          return;
        case 'toggle-start-at-login':
          login.set(!login.enabled());
          refreshTray();
          return;
        case 'quit':
          app.quit();
          return;
      }
    } catch (err) {
      dialog.showErrorBox('codeexec', (err as Error).message);
    }
  };
  const menuItem = (item: MenuItemModel): MenuItemConstructorOptions => {
    switch (item.type) {
      case 'separator':
        return { type: 'separator' };
      case 'check':
        return { type: 'checkbox', label: item.label, checked: item.checked, click: () => run(item.action) };
      case 'item':
        return { label: item.label, enabled: item.enabled, click: () => run(item.action) };
    }
  };
  tray.on('click', () => openWindow('status'));
  host.on('status', (status) => {
    refreshTray();
    for (const window of windows.values()) {
      if (!window.isDestroyed()) window.webContents.send(STATUS_CHANGED, status);
    }
  });
  // The menu's countdowns ("retrying in 8 s", "paused until 14:00") move with the clock.
  setInterval(refreshTray, 1000).unref();

  app.on('second-instance', () => openWindow('status'));
  // A tray app: closing its windows does not quit it.
  app.on('window-all-closed', () => {});
  let stopping = false;
  let stopped = false;
  app.on('before-quit', (event) => {
    if (stopped) return;
    event.preventDefault();
    // A second Quit while the jobs finish: leave now (the gateway re-queues them after its lease).
    if (stopping) app.exit(0);
    stopping = true;
    log.info('quitting: letting running jobs end');
    tray.setToolTip('codeexec — stopping once the running jobs end…');
    host
      .close()
      .catch((err: unknown) => log.error({ err }, 'stopping failed'))
      .finally(() => {
        stopped = true;
        app.quit();
      });
  });

  await host.start();
  refreshTray();
  const setup = host.status().setup;
  if (setup?.kind === 'settings_damaged') {
    openWindow('status');
    void dialog.showMessageBox({
      type: 'error',
      title: 'codeexec',
      message: 'Your donor settings file is damaged',
      detail: setup.text,
    });
  } else if (setup?.kind === 'not_enrolled') {
    openWindow('settings');
  } else if (!process.argv.includes(HIDDEN_FLAG)) {
    openWindow('status');
  }
}

const PRESETS = {
  'pause-hour': 'hour',
  'pause-tomorrow': 'tomorrow',
  'pause-indefinitely': 'indefinitely',
} as const;

function trayImage(shown: Tone) {
  const image = nativeImage.createFromBuffer(trayIconPng(shown, 16));
  image.addRepresentation({ scaleFactor: 2, buffer: trayIconPng(shown, 32) });
  return image;
}
