// A runner that lies, for the verification tests: it speaks the runner protocol over a real
// WebSocket (hello, heartbeats, accept, done) but runs nothing — every job it accepts "finishes"
// at once with the output the test chose. What a hostile donor could do with the protocol alone.
import WebSocket from 'ws';
import { result } from '../gateway/jobs/dispatcher-fixture.js';
import { PROTOCOL_VERSION } from '../shared/index.js';

export class LyingRunner {
  readonly name: string;
  /** Jobs offered to it, in order. */
  readonly offered: string[] = [];
  readonly #socket: WebSocket;
  readonly #beat: NodeJS.Timeout;

  private constructor(name: string, socket: WebSocket) {
    this.name = name;
    this.#socket = socket;
    this.#beat = setInterval(() => this.#send({ type: 'heartbeat', jobs: [] }), 1_000);
  }

  /** Connects and resolves once the gateway welcomed it. */
  static connect(gatewayUrl: string, token: string, name: string, stdout: string): Promise<LyingRunner> {
    const socket = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/runners/connect`);
    const runner = new LyingRunner(name, socket);
    return new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('open', () =>
        runner.#send({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          token,
          name,
          version: 'liar-1',
          languages: [{ name: 'python', version: '3.11.2', aliases: ['py'] }],
          slots: 4,
        }),
      );
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; job?: { id: string } };
        if (frame.type === 'welcome') resolve(runner);
        if (frame.type === 'error') reject(new Error(JSON.stringify(frame)));
        if (frame.type === 'offer' && frame.job) {
          const id = frame.job.id;
          runner.offered.push(id);
          runner.#send({ type: 'accept', job_id: id });
          runner.#send({ type: 'done', job_id: id, result: result(stdout) });
        }
      });
    });
  }

  close(): Promise<void> {
    clearInterval(this.#beat);
    return new Promise((resolve) => {
      if (this.#socket.readyState === WebSocket.CLOSED) resolve();
      this.#socket.once('close', () => resolve());
      this.#socket.close(1000, 'done');
    });
  }

  #send(frame: object): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(frame));
  }
}
