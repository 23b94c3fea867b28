// The state a donor shows its owner (the tray, `codeexec donor status`): the policy's decision as
// the runner carries it out, and the donor's own life. Finishing with nothing left to run is
// paused (there is nothing to wait for); donating while the runner still starts (waits for Docker,
// or restarts for other languages) is starting; stopping and stopped come from the donor. Pure.
import type { DonorStatus } from '../shared/donor.js';
import type { PolicyDecision } from './donor-policy.js';

export interface ShownInputs {
  /** The donor has stopped, or is stopping (its running jobs end first). */
  stopped: boolean;
  stopping: boolean;
  /** The policy's last decision; null before the first. */
  decision: PolicyDecision | null;
  /** The runner starts (null: it runs), and why: "waiting for the Docker engine". */
  starting: string | null;
  /** Jobs running now. */
  running: number;
}

export type Shown = Pick<DonorStatus, 'state' | 'reason' | 'reason_text'>;

export function shownState({ stopped, stopping, decision, starting, running }: ShownInputs): Shown {
  if (stopped) return { state: 'stopped', reason: 'stopped', reason_text: 'Stopped' };
  if (stopping)
    return { state: 'finishing', reason: 'stopped', reason_text: 'Stopping once the running jobs end' };
  if (decision === null) return { state: 'starting', reason: 'starting', reason_text: 'Starting' };
  if (decision.state === 'donating' && starting !== null) {
    return { state: 'starting', reason: 'starting', reason_text: `Starting: ${starting}` };
  }
  const state = decision.state === 'finishing' && running === 0 ? 'paused' : decision.state;
  return { state, reason: decision.reason, reason_text: decision.text };
}
