// A private nats-server for tests (test/nats-process.ts: Debian's binary on a free loopback port,
// JetStream optional, restartable on the same port), stopped by its pid in teardown even when the
// test fails. Also a raw publisher, for bytes no well-behaved client would send.
import { connect, type Socket } from 'node:net';
import { teardown } from './helpers.js';
import { launchNatsServer, type NatsServer } from './nats-process.js';

export type { NatsServer };

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsServer> {
  const server = await launchNatsServer(options);
  teardown(() => server.destroy());
  return server;
}

/**
 * Publishes `payload` on `subject` as a bare client would, bypassing every check of nats.js; resolves
 * once the server has handled it (it answered the PING that follows).
 */
export async function rawPublish(port: number, subject: string, payload: string | Buffer): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  try {
    await untilLine(socket, 'INFO ');
    const body = Buffer.from(payload);
    socket.write(`CONNECT {"verbose":false,"pedantic":false}\r\nPUB ${subject} ${body.byteLength}\r\n`);
    socket.write(body);
    socket.write('\r\nPING\r\n');
    await untilLine(socket, 'PONG');
  } finally {
    socket.destroy();
  }
}

/** Resolves when the server sends a line starting with `start`; rejects on -ERR or a close. */
function untilLine(socket: Socket, start: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split('\r\n');
      text = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('-ERR')) finish(new Error(`the NATS server said ${line}`));
        else if (line.startsWith(start)) finish();
      }
    };
    const onClose = () => finish(new Error(`the NATS connection closed before ${start}`));
    const finish = (err?: Error) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', finish);
      if (err) reject(err);
      else resolve();
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', finish);
  });
}
