// Follows the engine's `die` events for the runner's containers, subscribing again when the engine
// drops the stream, so the pool replaces a warm container that died instead of handing it out.
import type { Logger } from '../../shared/log.js';
import type { SandboxDriver } from '../docker/docker-sandbox.js';

const RESUBSCRIBE_MS = 1000;

export class DeathWatch {
  private readonly docker: Pick<SandboxDriver, 'watchDeaths'>;
  private readonly label: readonly [key: string, value: string];
  private readonly onDeath: (containerId: string) => void;
  private readonly log: Logger;
  private stopStream: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    docker: Pick<SandboxDriver, 'watchDeaths'>,
    label: readonly [key: string, value: string],
    onDeath: (containerId: string) => void,
    log: Logger,
  ) {
    this.docker = docker;
    this.label = label;
    this.onDeath = onDeath;
    this.log = log;
  }

  /** Subscribe; rejects when the engine refuses (later drops are retried, never thrown). */
  start(): Promise<void> {
    return this.subscribe();
  }

  /** Idempotent; also stops a subscription that is still opening. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopStream?.();
    this.stopStream = null;
  }

  private async subscribe(): Promise<void> {
    const [key, value] = this.label;
    const stop = await this.docker.watchDeaths(key, value, this.onDeath, () => this.subscribeLater());
    if (this.closed) stop();
    else this.stopStream = stop;
  }

  private subscribeLater(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.subscribe().catch((err) => {
        this.log.warn({ err }, 'docker events stream failed');
        this.subscribeLater();
      });
    }, RESUBSCRIBE_MS);
  }
}
