// The names of the IPC channels between the app's main process and its windows: one table, used by
// the preload (which must stay tiny: no schemas in it), the handlers and the shell.

/** Window → main, answered (ipcRenderer.invoke / ipcMain.handle). */
export const INVOKE_CHANNELS = [
  'status:get',
  'settings:get',
  'settings:save',
  'enrollment:save',
  'control:pause',
  'control:finish',
  'control:resume',
  'window:open',
] as const;
export type InvokeChannel = (typeof INVOKE_CHANNELS)[number];

/** Main → window: every new status (webContents.send / ipcRenderer.on). */
export const STATUS_CHANGED = 'status:changed';
