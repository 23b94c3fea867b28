// A stand-in for the `electron` module in the shell's smoke test (main.smoke.test.ts), which
// bundles main.ts with this in electron's place: it records what the shell asks of Electron and
// lets the test play the OS and the owner (a window's IPC message, a tray click, Quit). Only the
// calls main.ts makes exist. Its directory comes from the bundle (a define), not a global.

declare const __FAKE_ELECTRON_ROOT__: string;

type Listener = (...args: never[]) => unknown;

/** Listeners by event name, as an EventEmitter keeps them. */
class Events {
  readonly listeners = new Map<string, Listener[]>();

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  once(event: string, listener: Listener): this {
    return this.on(event, listener);
  }

  emit(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? [])
      (listener as (...a: unknown[]) => unknown)(...args);
  }
}

/** Everything the shell did, for the test to read. */
export const calls: string[] = [];
export const handlers = new Map<string, (event: unknown, payload: unknown) => Promise<unknown>>();
export const schemes: { scheme: string; privileges: Record<string, boolean> }[] = [];
export const protocolHandlers = new Map<string, (request: { url: string }) => Promise<Response>>();
export const windows: BrowserWindow[] = [];
export const trays: Tray[] = [];
export const permissionHandlers: { request?: Listener; check?: Listener } = {};

class App extends Events {
  readonly isPackaged = true;
  readonly #paths = new Map<string, string>([
    ['appData', `${__FAKE_ELECTRON_ROOT__}/appData`],
    ['logs', `${__FAKE_ELECTRON_ROOT__}/logs`],
  ]);
  loginItem = false;

  getPath(name: string): string {
    const path = this.#paths.get(name);
    if (!path) throw new Error(`no fake path ${name}`);
    return path;
  }
  setPath(name: string, path: string): void {
    this.#paths.set(name, path);
  }
  enableSandbox(): void {
    calls.push('app.enableSandbox');
  }
  requestSingleInstanceLock(): boolean {
    calls.push('app.requestSingleInstanceLock');
    return true;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  getVersion(): string {
    return '0.0.0-test';
  }
  getAppPath(): string {
    return __FAKE_ELECTRON_ROOT__;
  }
  quit(): void {
    calls.push('app.quit');
    const event = { defaultPrevented: false, preventDefault: () => (event.defaultPrevented = true) };
    this.emit('before-quit', event);
    if (!event.defaultPrevented) calls.push('app quit');
  }
  exit(code: number): void {
    calls.push(`app.exit ${code}`);
  }
  getLoginItemSettings(): { openAtLogin: boolean } {
    return { openAtLogin: this.loginItem };
  }
  setLoginItemSettings(settings: { openAtLogin: boolean }): void {
    this.loginItem = settings.openAtLogin;
  }
}

export const app = new App();

export class BrowserWindow extends Events {
  url = '';
  shown = false;
  destroyed = false;
  readonly sent: [string, unknown][] = [];
  readonly webContents = { send: (channel: string, payload: unknown) => this.sent.push([channel, payload]) };

  constructor(readonly options: Record<string, unknown>) {
    super();
    windows.push(this);
  }
  loadURL(url: string): Promise<void> {
    this.url = url;
    this.emit('ready-to-show');
    return Promise.resolve();
  }
  show(): void {
    this.shown = true;
  }
  focus(): void {}
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

export const ipcMain = {
  handle(channel: string, handler: (event: unknown, payload: unknown) => Promise<unknown>): void {
    if (handlers.has(channel)) throw new Error(`a second handler for ${channel}`);
    handlers.set(channel, handler);
  },
};

export const protocol = {
  registerSchemesAsPrivileged(list: { scheme: string; privileges: Record<string, boolean> }[]): void {
    schemes.push(...list);
  },
  handle(scheme: string, handler: (request: { url: string }) => Promise<Response>): void {
    protocolHandlers.set(scheme, handler);
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler: (handler: Listener) => {
      permissionHandlers.request = handler;
    },
    setPermissionCheckHandler: (handler: Listener) => {
      permissionHandlers.check = handler;
    },
  },
};

export const safeStorage = {
  isEncryptionAvailable: () => true,
  encryptString: (text: string) => Buffer.from(text).reverse(),
  decryptString: (data: Buffer) => Buffer.from(data).reverse().toString(),
  getSelectedStorageBackend: () => 'gnome_libsecret',
};

export const powerMonitor = {
  getSystemIdleTime: () => 600,
  isOnBatteryPower: () => false,
};

export interface MenuTemplateItem {
  label?: string;
  type?: string;
  enabled?: boolean;
  checked?: boolean;
  role?: string;
  click?: () => void;
}

export const Menu = {
  setApplicationMenu(menu: unknown): void {
    calls.push(`Menu.setApplicationMenu ${menu === null ? 'null' : 'menu'}`);
  },
  buildFromTemplate(template: MenuTemplateItem[]): { template: MenuTemplateItem[] } {
    return { template };
  },
};

export const nativeImage = {
  createFromBuffer(buffer: Buffer) {
    return {
      representations: [buffer],
      addRepresentation(options: { scaleFactor: number; buffer: Buffer }) {
        this.representations.push(options.buffer);
      },
    };
  },
};

export class Tray extends Events {
  menu: { template: MenuTemplateItem[] } | null = null;
  tooltip = '';

  constructor(public image: unknown) {
    super();
    trays.push(this);
  }
  setContextMenu(menu: { template: MenuTemplateItem[] }): void {
    this.menu = menu;
  }
  setToolTip(text: string): void {
    this.tooltip = text;
  }
  setImage(image: unknown): void {
    this.image = image;
  }
}

export const dialog = {
  showErrorBox(title: string, message: string): void {
    calls.push(`dialog.showErrorBox ${title}: ${message}`);
  },
  showMessageBox(options: { message: string }): Promise<{ response: number }> {
    calls.push(`dialog.showMessageBox ${options.message}`);
    return Promise.resolve({ response: 0 });
  },
};
