// A SocketLike that keeps what is sent to it, parsed: for unit tests of the gateway's socket
// handlers (runner hub, session broker) without a transport.
import type { SocketLike } from '../gateway/transport/transport.js';

// biome-ignore lint/suspicious/noExplicitAny: frames are read by the assertions
export type SentFrame = Record<string, any>;

export function recordingSocket(): { socket: SocketLike; sent: SentFrame[] } {
  const sent: SentFrame[] = [];
  const socket: SocketLike = {
    send: (text) => {
      sent.push(JSON.parse(text) as SentFrame);
      return true;
    },
    close: () => {},
    bufferedAmount: 0,
    remoteAddress: '127.0.0.1',
  };
  return { socket, sent };
}
