// The gateway's log, as one consumer of JobEvents: a line per runner coming, changing and going,
// and per job queued, running and still waiting (debug), re-queued (warn) and finished (info: one
// line per job). Every line about a job carries `job_id` and `client`, and `runner_id` once a
// runner has it, so grepping a job's id follows its life. Returns the function that stops it.
import type { JobRecord, Logger } from '../../shared/index.js';
import type { JobEvents, RunnerInfo } from './job-events.js';

/** The fields every line about a job carries. */
export function jobFields(job: JobRecord): Record<string, unknown> {
  return {
    job_id: job.id,
    client: job.client,
    ...(job.runner_id === null ? {} : { runner_id: job.runner_id }),
    ...(job.replica_of === null ? {} : { replica_of: job.replica_of }),
  };
}

function runnerFields(runner: RunnerInfo): Record<string, unknown> {
  return {
    runner_id: runner.name,
    tier: runner.tier,
    slots: runner.slots,
    languages: runner.languages,
    building: runner.building,
  };
}

export function logEvents(events: JobEvents, log: Logger): () => void {
  const stops = [
    events.on('runner.joined', ({ runner }) => log.info(runnerFields(runner), 'runner connected')),
    events.on('runner.left', ({ runner, final, reason }) =>
      log.info({ runner_id: runner.name, final, reason }, 'runner disconnected'),
    ),
    // `runner draining` is the registry's line (it knows what the runner still holds).
    events.on('runner.changed', ({ runner, paused }) =>
      log.info({ ...runnerFields(runner), paused }, 'runner changed'),
    ),
    events.on('job.queued', ({ job }) =>
      log.debug({ ...jobFields(job), lang: job.lang, attempt: job.attempt }, 'job queued'),
    ),
    // Once per queue timeout per waiting job: a backlog would flood info.
    events.on('job.waiting', ({ job, because }) =>
      log.debug({ ...jobFields(job), lang: job.lang, because }, 'job waiting'),
    ),
    events.on('job.requeued', ({ job, runner, reason }) =>
      log.warn({ ...jobFields(job), runner_id: runner, reason, attempt: job.attempt }, 'job requeued'),
    ),
    events.on('job.started', ({ job }) =>
      log.debug(
        { ...jobFields(job), lang: job.lang, attempt: job.attempt, queue_ms: job.timings.queue_ms },
        'job running',
      ),
    ),
    events.on('job.finished', ({ job }) =>
      log.info(
        {
          ...jobFields(job),
          lang: job.lang,
          status: job.status,
          reason: job.reason,
          exit_code: job.exit_code,
          ...(job.error === null ? {} : { error: job.error.code }),
          attempt: job.attempt,
          total_ms: job.timings.total_ms,
        },
        'job finished',
      ),
    ),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}
