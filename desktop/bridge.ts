// The API the preload puts on `window.codeexec` and the pages use: the only way a window reaches
// the app. Small on purpose (Electron's checklist: never hand a page ipcRenderer itself).
import type { DonorSettings } from '../shared/donor.js';
import type { DesktopStatus, EnrollmentRequest, SaveResult, SettingsView, WindowName } from './ipc-api.js';
import type { PausePreset } from './pause-until.js';

export interface DesktopBridge {
  getStatus(): Promise<DesktopStatus>;
  /** Calls `listener` with every new status; returns a function that unsubscribes it. */
  onStatus(listener: (status: DesktopStatus) => void): () => void;
  getSettings(): Promise<SettingsView>;
  saveSettings(settings: DonorSettings): Promise<SaveResult>;
  saveEnrollment(enrollment: EnrollmentRequest): Promise<SaveResult>;
  pause(preset: PausePreset): Promise<DesktopStatus>;
  /** Let running jobs end, take no new ones, then stay paused until resumed. */
  finish(): Promise<DesktopStatus>;
  resume(): Promise<DesktopStatus>;
  openWindow(window: WindowName): Promise<void>;
}

/** The property of `window` the bridge lives on. */
export const BRIDGE_KEY = 'codeexec';
