// The windows' preload (a shell file: it imports electron). It puts the DesktopBridge on
// `window.codeexec` through contextBridge: one function per IPC channel, never ipcRenderer itself.
// Sandboxed, so built as one CommonJS script that requires 'electron' and nothing else.
import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron';
import { BRIDGE_KEY, type DesktopBridge } from './bridge.js';
import type { DesktopStatus, InvokeRequests, InvokeResults } from './ipc-api.js';
import { type InvokeChannel, STATUS_CHANGED } from './ipc-channels.js';

function invoke<C extends InvokeChannel>(channel: C, payload?: InvokeRequests[C]): Promise<InvokeResults[C]> {
  return ipcRenderer.invoke(channel, payload);
}

const bridge: DesktopBridge = {
  getStatus: () => invoke('status:get'),
  onStatus: (listener) => {
    const relay = (_event: IpcRendererEvent, status: DesktopStatus) => listener(status);
    ipcRenderer.on(STATUS_CHANGED, relay);
    return () => {
      ipcRenderer.removeListener(STATUS_CHANGED, relay);
    };
  },
  getSettings: () => invoke('settings:get'),
  saveSettings: (settings) => invoke('settings:save', settings),
  saveEnrollment: (enrollment) => invoke('enrollment:save', enrollment),
  pause: (preset) => invoke('control:pause', { preset }),
  finish: () => invoke('control:finish'),
  resume: () => invoke('control:resume'),
  openWindow: async (window) => {
    await invoke('window:open', { window });
  },
};

contextBridge.exposeInMainWorld(BRIDGE_KEY, bridge);
