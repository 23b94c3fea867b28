// A job as a runner is offered it: what it needs to run the job, nothing the gateway keeps for
// itself (owner, callback, timings).
import type { JobRecord, OfferedJob } from '../../shared/index.js';

export function offeredJob(job: JobRecord): OfferedJob {
  return {
    id: job.id,
    lang: job.lang,
    code: job.code,
    stdin: job.stdin,
    args: job.args,
    files: job.files,
    limits: job.limits,
    compile_limits: job.compile_limits,
    interactive: job.interactive,
    session_id: job.session_id,
  };
}
