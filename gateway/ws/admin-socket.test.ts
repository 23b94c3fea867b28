// The dashboard socket's own rules, on the real core without a transport: who is let in, that a
// frame sent to it is answered with an error, and that a dashboard that stops reading is closed
// (1008) instead of buffered without bound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_FRAME_INTERVAL_MS, ADMIN_MAX_BUFFERED_BYTES, silentLogger } from '../../shared/index.js';
import type { SentFrame } from '../../test/recording-socket.js';
import { AdminFeed } from '../admin/admin-feed.js';
import { AdminAuth } from '../http/admin-auth.js';
import { type Core, dispatchCore } from '../jobs/dispatcher-fixture.js';
import { runnerViews } from '../runners/runner-views.js';
import type { SocketLike } from '../transport/transport.js';
import { AdminSockets } from './admin-socket.js';

let core: Core;
let feed: AdminFeed;

beforeEach(() => {
  core = dispatchCore();
  feed = new AdminFeed({
    events: core.events,
    runners: () => runnerViews(core.registry, core.reliability),
    queuedByLanguage: () => core.dispatcher.queuedByLanguage(),
    store: core.store,
    clock: core.clock,
    log: silentLogger,
    heartbeatMs: 5_000,
  });
});
afterEach(() => {
  feed.close();
  core.close();
});

/** A socket that records frames and closes, with a send buffer the test sets. */
function fakeSocket(remoteAddress = '127.0.0.1') {
  const sent: SentFrame[] = [];
  const closes: [number, string][] = [];
  const socket = {
    send: (text: string) => {
      sent.push(JSON.parse(text) as SentFrame);
      return true;
    },
    close: (code: number, reason: string) => {
      closes.push([code, reason]);
    },
    bufferedAmount: 0,
    remoteAddress,
  } satisfies SocketLike;
  return { socket, sent, closes };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const upgrade = (headers: Record<string, string> = {}) => ({ headers, query: new URLSearchParams() });

describe('the dashboard socket', () => {
  it.each([
    ['no admin keys, a caller off loopback', [], '10.1.2.3', {}],
    ['admin keys, no key', ['k1'], '127.0.0.1', {}],
    ['admin keys, a wrong key', ['k1'], '127.0.0.1', { authorization: 'Bearer k2' }],
  ] as const)('refuses %s: an error frame, then 4401', (_, keys, address, headers) => {
    const sockets = new AdminSockets({ feed, admin: new AdminAuth(keys) });
    const { socket, sent, closes } = fakeSocket(address);
    sockets.open(socket, upgrade(headers));
    expect(sent).toEqual([expect.objectContaining({ type: 'error', code: 'unauthorized' })]);
    expect(closes).toEqual([[4401, expect.any(String)]]);
    expect(sockets.size).toBe(0);
    expect(feed.size).toBe(0);
  });

  it('lets an admin key in and sends the snapshot; a frame sent to it gets an error frame', async () => {
    const sockets = new AdminSockets({ feed, admin: new AdminAuth(['k1']) });
    const { socket, sent, closes } = fakeSocket('10.1.2.3');
    sockets.open(socket, upgrade({ authorization: 'Bearer k1' }));
    await settle();
    expect(sent.map((f) => f.type)).toEqual(['snapshot']);
    sockets.message(socket);
    expect(sent.at(-1)).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect(closes).toEqual([]);
    sockets.close(socket);
    expect(feed.size).toBe(0);
  });

  it('closes a dashboard that leaves too much unread (1008), and sends it nothing more', async () => {
    const sockets = new AdminSockets({ feed, admin: new AdminAuth([]) });
    const { socket, sent, closes } = fakeSocket();
    sockets.open(socket, upgrade());
    await settle();
    socket.bufferedAmount = ADMIN_MAX_BUFFERED_BYTES + 1;
    core.connect('r1');
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    core.connect('r2');
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(sent.map((f) => f.type)).toEqual(['snapshot']);
    expect(closes).toEqual([[1008, 'the dashboard does not read its socket']]);
  });
});
