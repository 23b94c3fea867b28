// A TCP relay on 127.0.0.1 in front of a server, for tests that must kill a connection the way a
// network does: cut() resets every connection through it (RST, no WebSocket close, no FIN
// handshake), while the relay keeps listening so the client can reconnect through it.
import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import { teardown } from './helpers.js';

export interface TcpRelay {
  /** http://127.0.0.1:<relay port> */
  url: string;
  /** Connections made through it so far. */
  readonly connections: number;
  /** Resets every open connection, both sides. Resolves once both sides are gone. */
  cut(): Promise<void>;
}

export async function tcpRelay(target: string): Promise<TcpRelay> {
  const { hostname, port } = new URL(target);
  const open = new Set<[Socket, Socket]>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = createConnection({ host: hostname, port: Number(port) });
    const pair: [Socket, Socket] = [client, upstream];
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  teardown(async () => {
    for (const [a, b] of open) {
      a.destroy();
      b.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    async cut() {
      const closing: Promise<unknown>[] = [];
      for (const pair of [...open]) {
        for (const socket of pair) {
          closing.push(once(socket, 'close'));
          socket.resetAndDestroy();
        }
      }
      await Promise.all(closing);
    },
  };
}
