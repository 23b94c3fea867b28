// The gateway's log, as one consumer of JobEvents: a line per runner coming, changing and going,
// per job re-queued, and (at debug) per job running and ended — named apart from the runner's own
// `job accepted` / `job finished`, which share a process with these under `codeexec dev`.
// Returns the function that stops it.
import type { Logger } from '../../shared/index.js';
import type { JobEvents } from './job-events.js';

export function logEvents(events: JobEvents, log: Logger): () => void {
  const stops = [
    events.on('runner.joined', ({ runner }) =>
      log('info', 'runner connected', {
        runner: runner.name,
        languages: runner.languages,
        building: runner.building,
        slots: runner.slots,
      }),
    ),
    events.on('runner.left', ({ runner, final, reason }) =>
      log('info', 'runner disconnected', { runner: runner.name, final, reason }),
    ),
    events.on('runner.draining', ({ runner }) => log('info', 'runner draining', { runner: runner.name })),
    events.on('runner.changed', ({ runner, paused }) =>
      log('info', 'runner changed', {
        runner: runner.name,
        paused,
        slots: runner.slots,
        languages: runner.languages,
        building: runner.building,
      }),
    ),
    events.on('job.requeued', ({ job, runner, reason }) =>
      log('warn', 'job requeued', { job: job.id, runner, reason, attempt: job.attempt }),
    ),
    events.on('job.started', ({ job }) =>
      log('debug', 'job running', { job: job.id, runner: job.runner_id, attempt: job.attempt }),
    ),
    events.on('job.finished', ({ job }) =>
      log('debug', 'job finished', {
        job: job.id,
        status: job.status,
        reason: job.reason,
        error: job.error?.code,
      }),
    ),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}
