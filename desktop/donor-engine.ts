// What the app needs of the donor engine (donor/donor-service.ts's DonorService), narrowed to the
// calls it makes: the app's logic is written and tested against this, and the shell hands it the
// real service. Structural: DonorService satisfies it without knowing it exists.
import type { DonorSettings, DonorStatus } from '../shared/donor.js';

export interface DonorEngine {
  /** Every new status; returns a function that unsubscribes. */
  on(event: 'status', listener: (status: DonorStatus) => void): () => void;
  /** The engine gave up: the gateway refused its token for good, or its runner cannot restart. */
  on(event: 'fatal', listener: (error: Error) => void): () => void;
  /** Resolves once the runner runs: that waits for a Docker engine, so it may take hours. */
  start(): void | Promise<void>;
  status(): DonorStatus;
  /** Pause now (running jobs handed back) until `untilMs`, or indefinitely (null). */
  pause(untilMs: number | null): void;
  /** Let running jobs end, take no new ones; resolves once they have ended. */
  finish(): Promise<void>;
  resume(): void;
  updateSettings(settings: DonorSettings): void | Promise<void>;
  /** Lets running jobs end, then stops; `now`: hands them back to the gateway instead. */
  close(options?: { now?: boolean }): Promise<void>;
}

/** Opens an engine for a gateway, a token and the owner's settings. */
export type EngineFactory = (options: {
  gatewayUrl: string;
  token: string;
  settings: DonorSettings;
}) => Promise<DonorEngine>;

/** What the machine is doing, for the donor policy (donor-service.ts's SystemProbes). */
export interface SystemProbes {
  /** Seconds since the last keyboard or mouse input; null when unknown. */
  idleSeconds(): number | null;
  power(): { onBattery: boolean; percent: number | null };
  /** CPU used by programs other than the donor's sandboxes, percent of the whole machine. */
  otherCpuPercent(): number;
  memoryUsedPercent(): number;
}
