// A test client for the gateway's client socket: collects frames, and awaits the one you expect.
// With CODEEXEC_TRANSCRIPTS=<dir> set, tests can write a socket's frames, both ways, in order
// there (the docs' worked transcripts come from them).
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';

// biome-ignore lint/suspicious/noExplicitAny: frames are checked by the assertions that read them
export type Frame = Record<string, any>;

export class TestSocket {
  readonly frames: Frame[] = [];
  /** Every frame both ways, in order: `{">": sent}` or `{"<": received}`. */
  readonly log: Frame[] = [];
  readonly ws: WebSocket;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.log.push({ '<': { ...frame } });
      frame.at = Date.now();
      this.frames.push(frame);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  /** `protocols`: Sec-WebSocket-Protocol entries, as a browser passes them (shared/ws-auth.ts). */
  static async open(
    url: string,
    headers: Record<string, string> = {},
    protocols: string[] = [],
  ): Promise<TestSocket> {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, { headers });
    const socket = new TestSocket(ws);
    await once(ws, 'open');
    return socket;
  }

  send(frame: unknown): void {
    this.log.push({ '>': frame });
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Writes the log to $CODEEXEC_TRANSCRIPTS/<name>.txt, one frame per line; nothing without it. */
  async transcript(name: string, close?: { code: number; reason: string }): Promise<void> {
    const dir = process.env.CODEEXEC_TRANSCRIPTS;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    const lines = this.log.map((entry) => {
      const [way, frame] = Object.entries(entry)[0] as [string, Frame];
      return `${way} ${typeof frame === 'string' ? frame : JSON.stringify(frame)}`;
    });
    if (close) lines.push(`< close ${close.code} ${close.reason}`);
    await writeFile(join(dir, `${name}.txt`), `${lines.join('\n')}\n`);
  }

  /** The first frame (already received or still to come) that matches. */
  next(match: (f: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  of(id: string): Frame[] {
    return this.frames.filter((f) => f.id === id);
  }

  close(): void {
    this.ws.close();
  }
}
