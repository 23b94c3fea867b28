// The StageSandbox of a pooled job: its whole container, as run-stage's wholeContainer(), except
// that a SIGKILL the runner did not send, with the container found stopped and not by the OOM
// killer, is a lost sandbox (docker kill/stop/rm by someone else, the engine restarting), not a
// program killed by a signal: the job ends in sandbox_failed, which the gateway may retry.
import type { SandboxDriver } from '../docker/docker-sandbox.js';
import { SandboxLostError } from '../docker/sandbox-errors.js';
import { type StageSandbox, wholeContainer } from '../execution/run-stage.js';

export function lostAwareContainer(
  docker: Pick<SandboxDriver, 'kill' | 'waitStopped' | 'inspect'>,
  containerId: string,
): StageSandbox {
  const whole = wholeContainer({ docker, containerId });
  return {
    stop: whole.stop,
    oomKilled: async () => {
      // Before wholeContainer() stops it to read OOMKilled: an OOM kill leaves the container
      // running (the kernel kills the biggest process, the program), so a stopped one was stopped.
      // A program that kills every process of its own sandbox (its keep-alive too) ends here as well.
      const state = await docker.inspect(containerId);
      if (!state.running && !state.oomKilled) {
        throw new SandboxLostError('it stopped while the program ran, and the runner had not killed it');
      }
      return whole.oomKilled();
    },
  };
}
