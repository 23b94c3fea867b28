// A minimal WebSocket client (RFC 6455, text frames, no extensions) for the relay benchmark's
// client sockets. With `ws`, receiving a chunk cost the load process more CPU than relaying it
// cost a uWebSockets.js gateway, so msgs/s measured the load, not the gateway. This one reads with
// net's `onread` into one shared buffer (no stream machinery, no copy per read) and hands each
// text message over as bytes, so the caller can read a chunk's few fields without decoding it.
// It is not a general client: it trusts the server to speak the protocol, and fails loudly if not.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A text message: its bytes are `buffer[start, end)`, valid only during the call. */
export type OnText = (buffer: Buffer, start: number, end: number) => void;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Every socket reads into this: each read is consumed before the next one (one thread). */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export class RawClient {
  readonly #socket: Socket;
  /** Bytes of an unfinished frame (or handshake) from earlier reads. */
  #carry: Buffer | null = null;
  #open = false;
  #closed = false;
  #closeSent = false;
  /** Pieces of a fragmented text message. */
  #fragments: Buffer[] | null = null;
  readonly #key = randomBytes(16).toString('base64');
  readonly #whenClosed: Promise<void>;
  #onOpen: (() => void) | null = null;
  #onFail: ((err: Error) => void) | null = null;
  onText: OnText = () => {};
  onError: (err: Error) => void = () => {};

  private constructor(url: URL) {
    this.#socket = connect({
      host: url.hostname,
      port: Number(url.port),
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n) => this.#onRead(READ_BUFFER, n) },
    });
    this.#whenClosed = new Promise((resolve) => this.#socket.once('close', () => resolve()));
    this.#socket.once('close', () => {
      this.#closed = true;
      if (!this.#open) this.#fail(new Error('closed before the handshake completed'));
    });
    this.#socket.on('error', (err) => this.#fail(err));
    // Data arrives through `onread`; flowing mode only lets the end of the stream be seen.
    this.#socket.resume();
    this.#socket.once('connect', () => {
      this.#socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${this.#key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  /** Connects and completes the handshake. */
  static connect(url: string): Promise<RawClient> {
    const client = new RawClient(new URL(url));
    return new Promise((resolve, reject) => {
      client.#onOpen = () => resolve(client);
      client.#onFail = reject;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a text message (masked, as a client must; the key is zero, which any server takes). */
  send(text: string): void {
    this.#write(OPCODE.text, Buffer.from(text));
  }

  /** Sends a close frame (1000) and waits for the socket to close. */
  close(): Promise<void> {
    if (!this.#closed && !this.#closeSent) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(1000);
      this.#write(OPCODE.close, payload);
      this.#closeSent = true;
      // The server answers with its close frame and ends the connection; do not wait forever.
      const timer = setTimeout(() => this.#socket.destroy(), 5_000);
      void this.#whenClosed.then(() => clearTimeout(timer));
    }
    return this.#whenClosed;
  }

  /** Ends the connection at once. */
  terminate(): void {
    this.#socket.destroy();
  }

  #write(opcode: number, payload: Buffer): void {
    if (this.#closed || this.#socket.destroyed) return;
    const length = payload.length;
    const headerLength = length < 126 ? 6 : length < 65_536 ? 8 : 14;
    const header = Buffer.alloc(headerLength); // the mask key, its last 4 bytes, stays 0
    header[0] = 0x80 | opcode;
    if (length < 126) header[1] = 0x80 | length;
    else if (length < 65_536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    this.#socket.write(Buffer.concat([header, payload]));
  }

  #fail(err: Error): void {
    if (this.#onFail) {
      const fail = this.#onFail;
      this.#onFail = null;
      this.#onOpen = null;
      fail(err);
    } else this.onError(err);
    this.#socket.destroy();
  }

  #onRead(buffer: Buffer, n: number): boolean {
    let data = buffer;
    let end = n;
    if (this.#carry) {
      data = Buffer.concat([this.#carry, buffer.subarray(0, n)]);
      end = data.length;
      this.#carry = null;
    }
    let at = this.#open ? 0 : this.#handshake(data, end);
    if (at < 0) return true;
    try {
      while (at < end) {
        const next = this.#frame(data, at, end);
        if (next < 0) break;
        at = next;
      }
    } catch (err) {
      this.#fail(err as Error);
      return true;
    }
    // Keep an unfinished frame (a copy: `buffer` is reused by the next read).
    if (at < end) this.#carry = Buffer.from(data.subarray(at, end));
    return true;
  }

  /** Reads the 101 answer; returns where the frames start, or -1 if it is not complete yet. */
  #handshake(data: Buffer, end: number): number {
    const headEnd = data.subarray(0, end).indexOf('\r\n\r\n');
    if (headEnd < 0) {
      this.#carry = Buffer.from(data.subarray(0, end));
      return -1;
    }
    const head = data.toString('latin1', 0, headEnd);
    const accept = createHash('sha1')
      .update(this.#key + GUID)
      .digest('base64');
    const lines = head.split('\r\n');
    const answered = lines.some((line) => {
      const colon = line.indexOf(':');
      return (
        line.slice(0, colon).toLowerCase() === 'sec-websocket-accept' &&
        line.slice(colon + 1).trim() === accept
      );
    });
    if (!lines[0]!.startsWith('HTTP/1.1 101 ') || !answered) {
      this.#fail(new Error(`the server refused the upgrade: ${lines[0]}`));
      return -1;
    }
    this.#open = true;
    const open = this.#onOpen;
    this.#onOpen = null;
    this.#onFail = null;
    open?.();
    return headEnd + 4;
  }

  /** Handles the frame at `at`; returns where the next one starts, or -1 if it is not all here. */
  #frame(data: Buffer, at: number, end: number): number {
    if (end - at < 2) return -1;
    const first = data[at]!;
    const second = data[at + 1]!;
    if (second & 0x80) throw new Error('the server masked a frame');
    let length = second & 0x7f;
    let payloadAt = at + 2;
    if (length === 126) {
      if (end - at < 4) return -1;
      length = data.readUInt16BE(at + 2);
      payloadAt = at + 4;
    } else if (length === 127) {
      if (end - at < 10) return -1;
      length = Number(data.readBigUInt64BE(at + 2));
      payloadAt = at + 10;
    }
    const payloadEnd = payloadAt + length;
    if (payloadEnd > end) return -1;
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    switch (opcode) {
      case OPCODE.text:
        if (fin) this.onText(data, payloadAt, payloadEnd);
        else this.#fragments = [Buffer.from(data.subarray(payloadAt, payloadEnd))];
        break;
      case OPCODE.continuation: {
        if (!this.#fragments) throw new Error('a continuation frame without a message');
        this.#fragments.push(Buffer.from(data.subarray(payloadAt, payloadEnd)));
        if (fin) {
          const whole = Buffer.concat(this.#fragments);
          this.#fragments = null;
          this.onText(whole, 0, whole.length);
        }
        break;
      }
      case OPCODE.ping:
        this.#write(OPCODE.pong, Buffer.from(data.subarray(payloadAt, payloadEnd)));
        break;
      case OPCODE.pong:
        break;
      case OPCODE.close:
        // Answer the server's close (if it closed first), then the connection ends.
        if (!this.#closeSent) this.#write(OPCODE.close, Buffer.from(data.subarray(payloadAt, payloadEnd)));
        this.#closeSent = true;
        this.#closed = true;
        this.#socket.end();
        return end;
      default:
        throw new Error(`unexpected frame opcode ${opcode}`);
    }
    return payloadEnd;
  }
}

/** Handshakes in flight at once: enough to be quick, few enough not to overflow the accept backlog. */
const OPENING_AT_ONCE = 200;

/** Opens `count` clients to `url`; resolves once every one is open (rejects on the first failure). */
export async function openRawClients(url: string, count: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      clients.push(await RawClient.connect(url));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, count) }, lane));
  } catch (err) {
    for (const client of clients) client.terminate();
    throw new Error(`opened ${clients.length} of ${count} sockets to ${url}: ${(err as Error).message}`);
  }
  return clients;
}

/** Closes every client (a close handshake) and waits until each one is closed. */
export async function closeRawClients(clients: readonly RawClient[]): Promise<void> {
  await Promise.all(clients.map((client) => client.close()));
}
