// What main does with each message from a window: check the sender is one of the app's own pages,
// validate the payload against the channel's schema (ipc-api.ts), then call the host. Plain
// functions over a target, so every rule here is tested without Electron; the shell registers
// `invoke` for each channel with ipcMain.handle.
import * as v from 'valibot';
import { fieldErrors, summariseFields } from './field-errors.js';
import {
  type DesktopStatus,
  type EnrollmentRequest,
  INVOKE_REQUESTS,
  type InvokeResults,
  type SaveResult,
  type SettingsView,
  type WindowName,
} from './ipc-api.js';
import { INVOKE_CHANNELS, type InvokeChannel } from './ipc-channels.js';
import { pauseUntil } from './pause-until.js';

/** What the handlers drive: the DonorHost, and the shell's windows. */
export interface IpcTarget {
  status(): DesktopStatus;
  settingsView(): Promise<SettingsView>;
  saveSettings(settings: unknown): Promise<SaveResult>;
  saveEnrollment(request: EnrollmentRequest): Promise<SaveResult>;
  pause(untilMs: number | null): DesktopStatus;
  finish(): DesktopStatus;
  resume(): DesktopStatus;
  openWindow(window: WindowName): void;
}

export type IpcErrorCode = 'untrusted_sender' | 'unknown_channel' | 'invalid_message';

/** A message refused before it reached the host; the window sees `message`. */
export class IpcError extends Error {
  override name = 'IpcError';
  constructor(
    readonly code: IpcErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface IpcHandlerOptions {
  /** True for the URL of a frame of one of the app's own pages (app-protocol.ts). */
  isTrustedSender(url: string): boolean;
  now?: () => Date;
}

export interface IpcHandlers {
  invoke<C extends InvokeChannel>(channel: C, payload: unknown, senderUrl: string): Promise<InvokeResults[C]>;
}

export function createIpcHandlers(target: IpcTarget, options: IpcHandlerOptions): IpcHandlers {
  const now = options.now ?? (() => new Date());
  const handlers: {
    [C in InvokeChannel]: (
      payload: v.InferOutput<(typeof INVOKE_REQUESTS)[C]>,
    ) => Promise<InvokeResults[C]> | InvokeResults[C];
  } = {
    'status:get': () => target.status(),
    'settings:get': () => target.settingsView(),
    'settings:save': (settings) => target.saveSettings(settings),
    'enrollment:save': (request) => target.saveEnrollment(request),
    'control:pause': ({ preset }) => target.pause(pauseUntil(preset, now())),
    'control:finish': () => target.finish(),
    'control:resume': () => target.resume(),
    'window:open': ({ window }) => {
      target.openWindow(window);
      return undefined;
    },
  };
  return {
    async invoke(channel, payload, senderUrl) {
      if (!options.isTrustedSender(senderUrl)) {
        throw new IpcError(
          'untrusted_sender',
          `${channel}: refused a message from ${senderUrl || 'an unknown frame'}`,
        );
      }
      if (!(INVOKE_CHANNELS as readonly string[]).includes(channel)) {
        throw new IpcError('unknown_channel', `no such channel: ${String(channel)}`);
      }
      const parsed = v.safeParse(INVOKE_REQUESTS[channel], payload);
      if (!parsed.success) {
        const fields = fieldErrors(parsed.issues);
        // A form's save answers with its fields, so the window can mark them; others are refused.
        if (channel === 'settings:save' || channel === 'enrollment:save') {
          return {
            ok: false,
            error: `Not saved: ${summariseFields(fields)}`,
            fields,
          } as InvokeResults[typeof channel];
        }
        throw new IpcError('invalid_message', `${channel}: invalid message: ${summariseFields(fields)}`);
      }
      const handler = handlers[channel] as (payload: unknown) => Promise<InvokeResults[typeof channel]>;
      return handler(parsed.output);
    },
  };
}
