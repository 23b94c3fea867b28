// A running job's live controls: the interactive stdin stream (bounded, written as the program's
// exec can take it) and signals for the program (queued until the run stage starts, then delivered
// in order, each by a short exec of SIGNAL_SCRIPT).
import type { Writable } from 'node:stream';
import type { Signal } from '../../shared/client-protocol.js';
import type { StreamedInput } from '../docker/docker-sandbox.js';
import { PROGRAM_PID_FILE } from './stage-command.js';

/** Input the runner holds for a job whose program does not read it (or has not started yet). */
export const MAX_PENDING_STDIN_BYTES = 1024 * 1024;
/** Signals held while the run stage has not started; more are dropped. */
const MAX_QUEUED_SIGNALS = 16;

/**
 * The program's stdin after the job's own `stdin`: chunks are queued, and written to the exec's
 * stream only while it is not backed up (its 'drain'), so what the runner holds stays below
 * MAX_PENDING_STDIN_BYTES plus one socket buffer. Past the cap the job is ended (see run-stage.ts).
 */
export class JobInput implements StreamedInput {
  readonly #queue: Buffer[] = [];
  #bytes = 0;
  #eof = false;
  #sink: Writable | null = null;
  /** Set once more than MAX_PENDING_STDIN_BYTES waited at once; further input is dropped. */
  overflowed = false;
  /** Called once on overflow (the run stage ends the job). */
  onOverflow: (() => void) | null = null;
  readonly #cap: number;

  constructor(cap = MAX_PENDING_STDIN_BYTES) {
    this.#cap = cap;
  }

  get pendingBytes(): number {
    return this.#bytes;
  }

  write(data: Buffer): void {
    if (this.#eof || this.overflowed || data.length === 0) return;
    if (this.#bytes + data.length > this.#cap) {
      this.overflowed = true;
      this.#queue.length = 0;
      this.#bytes = 0;
      this.onOverflow?.();
      return;
    }
    this.#queue.push(data);
    this.#bytes += data.length;
    this.#flush();
  }

  /** End of input: once the queue is written, the program's stdin closes (it reads EOF). */
  end(): void {
    this.#eof = true;
    this.#flush();
  }

  /** The exec's stream, after its initial input: from now on input flows into it. */
  attach(sink: Writable): void {
    this.#sink = sink;
    sink.on('drain', () => this.#flush());
    this.#flush();
  }

  #flush(): void {
    const sink = this.#sink;
    if (sink === null || sink.destroyed || sink.writableEnded) return;
    while (this.#queue.length > 0) {
      if (sink.writableNeedDrain) return;
      const chunk = this.#queue.shift() as Buffer;
      this.#bytes -= chunk.length;
      sink.write(chunk);
    }
    if (this.#eof) sink.end();
  }
}

/** Sends one signal to the program; rejects if it could not (the program is gone: fine). */
export type SignalDelivery = (signal: Signal) => Promise<unknown>;

export class JobControl {
  /** The program's live stdin; null for a job that is not interactive (its stdin closes after `stdin`). */
  readonly input: JobInput | null;
  readonly #queued: Signal[] = [];
  #deliver: SignalDelivery | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #ended = false;
  /** A client's SIGKILL was sent: an exit of 137 is then that, not the CPU hard limit. */
  sentKill = false;

  constructor(interactive: boolean) {
    this.input = interactive ? new JobInput() : null;
  }

  /** A signal for the program: sent now if the run stage runs, else when it starts. */
  signal(name: Signal): void {
    if (this.#ended) return;
    if (this.#deliver === null) {
      if (this.#queued.length < MAX_QUEUED_SIGNALS) this.#queued.push(name);
      return;
    }
    this.#send(this.#deliver, name);
  }

  /** The run stage's exec started: queued signals go out, in order. */
  runStarted(deliver: SignalDelivery): void {
    if (this.#ended) return;
    this.#deliver = deliver;
    for (const name of this.#queued.splice(0)) this.#send(deliver, name);
  }

  /** The run stage ended: later signals have nothing to reach. */
  runEnded(): void {
    this.#ended = true;
    this.#deliver = null;
    this.#queued.length = 0;
  }

  #send(deliver: SignalDelivery, name: Signal): void {
    if (name === 'SIGKILL') this.sentKill = true;
    // One exec after the other, so signals arrive in the order they were sent.
    this.#chain = this.#chain.then(() => deliver(name)).catch(() => {});
  }
}

/**
 * Run as the sandbox user in the job's container: waits (≤ ~2 s) for the run stage to record the
 * program's pid, then signals its process group (setsid made it the leader: its children get it
 * too), or just the pid if the group is gone. $1 is the name without SIG (dash's kill wants that).
 */
export const SIGNAL_SCRIPT = [
  `f=${PROGRAM_PID_FILE} i=0`,
  'while [ ! -s "$f" ]; do i=$((i + 1)); [ "$i" -le 200 ] || exit 3; sleep 0.01; done',
  'p=$(cat "$f")',
  'kill -s "$1" -- "-$p" 2>/dev/null || kill -s "$1" "$p"',
].join('\n');

export function signalArgv(signal: Signal): string[] {
  return ['sh', '-c', SIGNAL_SCRIPT, 'sh', signal.slice(3)];
}
