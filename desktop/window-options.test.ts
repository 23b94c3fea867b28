import { describe, expect, it } from 'vitest';
import {
  blockNavigation,
  denyPermissionCheck,
  denyPermissionRequest,
  denyWindowOpen,
  SECURITY_CHECKLIST,
  windowOptions,
} from './window-options.js';

describe('windowOptions', () => {
  it.each(['status', 'settings'] as const)("the %s window follows Electron's security checklist", (kind) => {
    const options = windowOptions(kind, '/app/preload.cjs', { devTools: false });
    expect(options.webPreferences).toEqual({
      preload: '/app/preload.cjs',
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
      devTools: false,
    });
    // Never set: enableBlinkFeatures, a partition or session shared with anything else.
    expect(options.webPreferences).not.toHaveProperty('enableBlinkFeatures');
    expect(options.show).toBe(false);
  });

  it('the checklist names every item of Electron’s list, each with where it is met', () => {
    expect(SECURITY_CHECKLIST).toHaveLength(20);
    for (const [item, where] of SECURITY_CHECKLIST) {
      expect(item.length).toBeGreaterThan(0);
      expect(where.length).toBeGreaterThan(0);
    }
  });
});

describe('content policies', () => {
  it('denies new windows, navigation and every permission', () => {
    expect(denyWindowOpen()).toEqual({ action: 'deny' });
    let prevented = false;
    blockNavigation({ preventDefault: () => (prevented = true) });
    expect(prevented).toBe(true);
    let granted: boolean | null = null;
    denyPermissionRequest(null, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    expect(denyPermissionCheck()).toBe(false);
  });
});
