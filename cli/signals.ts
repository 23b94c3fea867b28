// Stopping on SIGTERM/SIGINT in steps: the first signal runs the gentle stop (drain), the next the
// hard one, one more exits at once. Shared by every long-running command.
import type { Logger } from '../shared/index.js';

/** The first signal runs `first`, the next `second` (if any); each exits 0 once it completes. */
export function onSignals(log: Logger, first: () => Promise<void>, second?: () => Promise<void>): void {
  const steps = [first, ...(second ? [second] : [])];
  let received = 0;
  const handler = (signal: string) => {
    const step = steps[received++];
    if (!step) process.exit(1);
    log.info({ signal }, received === 1 ? 'stopping' : 'stopping now');
    step().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
