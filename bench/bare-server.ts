// Bare WebSocket servers (uWebSockets.js, ws) that accept sockets and do nothing: the reference
// for what 10,000 idle sockets cost a server before the gateway adds anything.
import { WebSocketServer } from 'ws';

/** Listens on 127.0.0.1:port and prints `listening <port>` once it does. */
export async function runBareServer(kind: string, port: number): Promise<void> {
  const ready = (): void => void process.stdout.write(`listening ${port}\n`);
  if (kind === 'uws') {
    const { default: uWS } = await import('uWebSockets.js');
    // The gateway's settings for its sockets (see gateway/transport/uws-transport.ts).
    uWS
      .App()
      .ws('/*', {
        maxPayloadLength: 1024 * 1024,
        idleTimeout: 120,
        sendPingsAutomatically: true,
        maxBackpressure: 16 * 1024 * 1024,
        message: () => {},
      })
      .listen('127.0.0.1', port, (token) => {
        if (!token) throw new Error(`cannot listen on 127.0.0.1:${port}`);
        ready();
      });
    return;
  }
  if (kind === 'ws') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 1024 * 1024 });
    wss.on('connection', (ws) => ws.on('message', () => {}));
    wss.once('listening', ready);
    return;
  }
  throw new Error(`bare server kind must be uws or ws, got "${kind}"`);
}
