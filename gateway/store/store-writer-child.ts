// The process the kill -9 test kills (lowdb-job-store.test.ts bundles and runs it): finishes jobs
// in a LowdbJobStore as fast as it can, many in flight, and prints each step only once its write
// resolved — "<id> queued", "<id> running", "<id> done" — until it is killed.
// Arguments: the data directory, then compactAfterBytes (small, so compactions happen too).
import { newJob } from '../jobs/new-job.js';
import { LowdbJobStore } from './lowdb-job-store.js';

const IN_FLIGHT = 16;
const [dir, compactAfter] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: store-writer-child <data dir> [compactAfterBytes]');
const store = new LowdbJobStore(dir, { fsync: false, compactAfterBytes: Number(compactAfter ?? 65536) });
await store.open();

// stdout is a pipe: on Linux, Node writes to it synchronously, so a printed line has left before
// the next write is even called.
const say = (line: string) => process.stdout.write(`${line}\n`);
const output = 'x'.repeat(300);

async function worker(): Promise<never> {
  for (;;) {
    const job = newJob(
      { lang: 'python', code: 'print(1)' },
      { lang: 'python', interactive: false, client: null },
    );
    await store.insert(job);
    say(`${job.id} queued`);
    await store.transition(job.id, 'running', { runner_id: 'r1', attempt: 1 });
    say(`${job.id} running`);
    await store.transition(job.id, 'done', { output, stdout: output, exit_code: 0, reason: 'exited' });
    say(`${job.id} done`);
  }
}

await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
