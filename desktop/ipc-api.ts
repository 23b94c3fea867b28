// Every message between the app's windows and its main process, as valibot schemas: what each
// invoke channel takes (validated in main: a window is a renderer, and a renderer is not trusted)
// and what main answers or pushes (types: main is the trusted side).
import * as v from 'valibot';
import { type DonorSettings, DonorSettingsSchema, DonorStatusSchema } from '../shared/donor.js';
import type { InvokeChannel } from './ipc-channels.js';
import { PAUSE_PRESETS } from './pause-until.js';

/** Why the app is not donating before the donor even runs: the owner has something to do. */
export const SetupProblemSchema = v.object({
  kind: v.picklist(['not_enrolled', 'settings_damaged', 'token_unavailable', 'engine_failed']),
  /** What is wrong and what to do, for people. */
  text: v.string(),
});
export type SetupProblem = v.InferOutput<typeof SetupProblemSchema>;

/** What the tray and the windows show: the donor's status, and a setup problem when it cannot run. */
export const DesktopStatusSchema = v.object({
  donor: DonorStatusSchema,
  setup: v.nullable(SetupProblemSchema),
});
export type DesktopStatus = v.InferOutput<typeof DesktopStatusSchema>;

const gatewayUrl = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(2048),
  v.url('a URL like https://gateway.example'),
  v.check((url) => /^https?:\/\//i.test(url), 'an http:// or https:// URL'),
);

/** The gateway the app donates to, and its enrollment token (null: keep the stored one). */
export const EnrollmentRequestSchema = v.strictObject({
  gateway_url: gatewayUrl,
  token: v.nullable(v.pipe(v.string(), v.trim(), v.minLength(1, 'a token'), v.maxLength(4096))),
});
export type EnrollmentRequest = v.InferOutput<typeof EnrollmentRequestSchema>;

export const PauseRequestSchema = v.strictObject({ preset: v.picklist(PAUSE_PRESETS) });
export const WindowRequestSchema = v.strictObject({ window: v.picklist(['status', 'settings']) });
export type WindowName = v.InferOutput<typeof WindowRequestSchema>['window'];

/** What each invoke channel takes; `undefined`: nothing. */
export const INVOKE_REQUESTS = {
  'status:get': v.undefined(),
  'settings:get': v.undefined(),
  'settings:save': DonorSettingsSchema,
  'enrollment:save': EnrollmentRequestSchema,
  'control:pause': PauseRequestSchema,
  'control:finish': v.undefined(),
  'control:resume': v.undefined(),
  'window:open': WindowRequestSchema,
} as const satisfies Record<InvokeChannel, v.GenericSchema>;

export type InvokeRequests = { [C in InvokeChannel]: v.InferInput<(typeof INVOKE_REQUESTS)[C]> };

/** The settings window's content. */
export interface SettingsView {
  /** What the form starts from: the file's settings, or the defaults (first run, or a damaged file). */
  settings: DonorSettings;
  source: 'file' | 'defaults' | 'damaged';
  file: string;
  /** When the file is damaged: each problem ("limits.max_jobs: expected a value >= 1, got 0"). */
  problems: string[];
  /** The languages this app can offer (canonical names). */
  languages: string[];
  enrollment: {
    gateway_url: string | null;
    has_token: boolean;
    /** False when the OS gives no way to encrypt the token: it cannot be stored. */
    can_store_token: boolean;
  };
}

/** A save: done, or refused with a sentence and, for a form, one message per field path. */
export type SaveResult = { ok: true } | { ok: false; error: string; fields: Record<string, string> };

export interface InvokeResults {
  'status:get': DesktopStatus;
  'settings:get': SettingsView;
  'settings:save': SaveResult;
  'enrollment:save': SaveResult;
  'control:pause': DesktopStatus;
  'control:finish': DesktopStatus;
  'control:resume': DesktopStatus;
  'window:open': undefined;
}
