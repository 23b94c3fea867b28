// A sandbox lost under a job on the real engine (removed or killed behind the runner's back, or
// dying as an exec starts) is an infrastructure failure: the job ends in sandbox_failed, never in a
// result whose "output" is the engine's error and whose exit code is docker's 126.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CodeexecError } from '../../shared/errors.js';
import { findLanguage, type LanguageSpec } from '../../shared/languages.js';
import { MAX_LIMITS } from '../../shared/limits.js';
import { DockerSandbox } from '../docker/docker-sandbox.js';
import { containerUlimits } from '../execution/stage-command.js';
import { RUNNER_ID_LABEL, SandboxPool } from './sandbox-pool.js';

const python = findLanguage('python') as LanguageSpec;
const runnerId = `lost-test-${process.pid}-${Date.now()}`;
const pool = new SandboxPool({ runnerName: runnerId, languages: [python], minWarm: 1, maxWarm: 2 });
const started = pool.start();

afterAll(async () => {
  await pool.close();
});

/** The runner's containers that run a process with `marker` in its command line. */
function containersRunning(marker: string): string[] {
  const ids = execFileSync(
    'docker',
    ['ps', '-q', '--no-trunc', '--filter', `label=${RUNNER_ID_LABEL}=${runnerId}`],
    {
      encoding: 'utf8',
    },
  )
    .split('\n')
    .filter(Boolean);
  return ids.filter((id) => execFileSync('docker', ['top', id], { encoding: 'utf8' }).includes(marker));
}

describe('a sandbox lost under a job', () => {
  it.each([
    ['removed (docker rm -f)', ['rm', '-f']],
    ['killed (docker kill)', ['kill']],
  ])('%s: the job fails with sandbox_failed, not with program output', async (_name, command) => {
    await started;
    const marker = `lost${Math.random().toString(36).slice(2, 8)}`;
    let printed!: () => void;
    const running = new Promise<void>((resolve) => {
      printed = resolve;
    });
    const job = pool.execute(
      {
        id: marker,
        lang: 'python',
        code: `import time, sys\nprint("${marker}", flush=True)\ntime.sleep(30)`,
        args: [marker],
        stdin: null,
        limits: null,
      },
      () => printed(),
    );
    const outcome = job.then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    await running;
    const [id] = containersRunning(marker);
    expect(id).toBeDefined();
    execFileSync('docker', [...command, id as string], { stdio: 'ignore' });
    const ended = await outcome;
    expect(ended).not.toHaveProperty('result');
    const { error } = ended as { error: CodeexecError };
    expect(error).toBeInstanceOf(CodeexecError);
    expect(error.code).toBe('sandbox_failed');
    expect(error.message).toMatch(/by something other than the runner/);
  });

  it('an exec into a dying container never resolves with the engine error as its output', async () => {
    const docker = new DockerSandbox();
    const outcomes = new Set<string>();
    for (let round = 0; round < 6; round++) {
      const id = await docker.createAndStart({
        image: python.image,
        labels: { [RUNNER_ID_LABEL]: runnerId },
        memoryBytes: 128 * 1024 * 1024,
        pids: 64,
        cpus: 1,
        ulimits: containerUlimits(MAX_LIMITS),
        workspaceBytes: 16 * 1024 * 1024,
        tmpBytes: 16 * 1024 * 1024,
        shmBytes: 16 * 1024 * 1024,
      });
      const removal = docker.remove(id);
      // Execs racing the removal: each either runs echo, or fails as an error, never as a result.
      const execs = Array.from({ length: 6 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 4));
        let output = '';
        try {
          const code = await docker.exec(id, {
            argv: ['echo', 'ran'],
            input: null,
            onOutput: (_stream, data) => {
              output += data.toString();
            },
          });
          expect({ code, output }).toEqual({ code: 0, output: 'ran\n' });
          outcomes.add('ran');
        } catch (err) {
          outcomes.add((err as Error).name);
        }
      });
      await Promise.all(execs);
      await removal;
    }
    expect(
      [...outcomes].every((name) => ['ran', 'ExecNotStartedError', 'SandboxLostError'].includes(name)),
    ).toBe(true);
  });
});
