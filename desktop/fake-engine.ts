// A donor engine for tests: records every call, and a test sets the status it reports.
import { TypedEmitter } from '../runner/typed-emitter.js';
import type { DonorSettings, DonorStatus } from '../shared/donor.js';
import type { DonorEngine } from './donor-engine.js';
import { donorStatus } from './status-fixtures.js';

export class FakeEngine extends TypedEmitter<{ status: DonorStatus; fatal: Error }> implements DonorEngine {
  readonly calls: string[] = [];
  current: DonorStatus = donorStatus();
  settings: DonorSettings;
  /** Resolves the promise finish() returned; null until finish() is called. */
  finished: (() => void) | null = null;

  constructor(
    settings: DonorSettings,
    readonly gatewayUrl = '',
    readonly token = '',
  ) {
    super();
    this.settings = settings;
  }

  /** Resolves the promise start() returned (the real one waits for a Docker engine). */
  started: (() => void) | null = null;

  start(): Promise<void> {
    this.calls.push('start');
    return new Promise((resolve) => {
      this.started = resolve;
    });
  }

  status(): DonorStatus {
    return this.current;
  }

  pause(untilMs: number | null): void {
    this.calls.push(`pause ${untilMs}`);
    this.report({ state: 'paused', reason: 'paused_by_owner', paused_until: untilMs });
  }

  finish(): Promise<void> {
    this.calls.push('finish');
    this.report({ state: 'finishing', reason: 'finishing_by_owner' });
    return new Promise((resolve) => {
      this.finished = resolve;
    });
  }

  resume(): void {
    this.calls.push('resume');
    this.report({ state: 'donating', reason: 'donating', paused_until: undefined });
  }

  updateSettings(settings: DonorSettings): void {
    this.calls.push('updateSettings');
    this.settings = settings;
  }

  async close(options: { now?: boolean } = {}): Promise<void> {
    this.calls.push(options.now ? 'close now' : 'close');
  }

  /** The engine gives up, as the real one does when the gateway refuses its token. */
  fail(error: Error): void {
    this.emit('fatal', error);
  }

  /** A new status, as the real engine would emit it. */
  report(change: Partial<DonorStatus>): void {
    this.current = { ...this.current, ...change };
    this.emit('status', this.current);
  }
}
