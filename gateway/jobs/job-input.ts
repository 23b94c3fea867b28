// Interactive input for jobs this process holds (stdin, its end, signals), as it arrives through
// the bus: sent straight to the job's runner once one runs it, held (bounded) until then, and
// forgotten when the job ends.
import { CodeexecError } from '../../shared/index.js';
import type { ControlMessage } from '../bus/bus.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';

/** Input for a running job, as the runner protocol carries it. */
export type ControlFrame = Exclude<ControlMessage, { type: 'cancel' }> & { job_id: string };

/** How much stdin may wait for a job that has not started yet. */
export const MAX_PENDING_INPUT_BYTES = 1024 * 1024;

export class JobInput {
  readonly #registry: RunnerRegistry;
  readonly #pending = new Map<string, { frames: ControlFrame[]; bytes: number }>();

  constructor(registry: RunnerRegistry) {
    this.#registry = registry;
  }

  /** Sends it to the job's runner, or holds it. Throws invalid_frame past the bound. */
  deliver(id: string, message: Exclude<ControlMessage, { type: 'cancel' }>): void {
    const frame = { ...message, job_id: id } as ControlFrame;
    const runner = this.#registry.holderOf(id);
    if (runner?.running.has(id)) {
      runner.send(frame);
      return;
    }
    const pending = this.#pending.get(id) ?? { frames: [], bytes: 0 };
    pending.bytes += frame.type === 'stdin' ? Buffer.byteLength(frame.data) : 0;
    if (pending.bytes > MAX_PENDING_INPUT_BYTES) {
      throw new CodeexecError(
        'invalid_frame',
        `more than ${MAX_PENDING_INPUT_BYTES} bytes of stdin before the job started`,
      );
    }
    pending.frames.push(frame);
    this.#pending.set(id, pending);
  }

  /** A runner accepted the job: what waited goes to it, in order. */
  started(id: string, send: (frame: ControlFrame) => void): void {
    for (const frame of this.#pending.get(id)?.frames ?? []) send(frame);
    this.#pending.delete(id);
  }

  /** Whether input waits for the job (it cannot move to another gateway: the input would stay). */
  holds(id: string): boolean {
    return this.#pending.has(id);
  }

  forget(id: string): void {
    this.#pending.delete(id);
  }
}
