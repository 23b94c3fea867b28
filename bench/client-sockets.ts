// Client WebSockets to the gateway's /execute/ws (or a bare server), opened many at a time.
import { WebSocket } from 'ws';

/** Handshakes in flight at once: enough to be quick, few enough not to overflow the accept backlog. */
const OPENING_AT_ONCE = 200;

/** Opens one socket; `onError` hears any error after it opened (a socket must always have a listener). */
function openOne(url: string, onError: (err: Error) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', onError);
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

/** Opens `count` sockets to `url`; resolves once every one is open (rejects on the first failure). */
export async function openSockets(
  url: string,
  count: number,
  onError: (err: Error) => void = () => {},
): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      sockets.push(await openOne(url, onError));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, count) }, lane));
  } catch (err) {
    for (const ws of sockets) ws.terminate();
    throw new Error(`opened ${sockets.length} of ${count} sockets to ${url}: ${(err as Error).message}`);
  }
  return sockets;
}

/** Closes every socket (a normal close handshake) and waits until each one is closed. */
export async function closeSockets(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map((ws) => {
      if (ws.readyState === WebSocket.CLOSED) return undefined;
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close(1000);
      return closed;
    }),
  );
}
