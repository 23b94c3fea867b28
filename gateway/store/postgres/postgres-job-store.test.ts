// PostgresJobStore without a PostgreSQL server: a database nobody answers for is `unavailable`,
// promptly, never a hang. (With a server: test/store-postgres.test.ts.)
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testJob } from '../job-store-conformance.js';
import { isUnavailable, redactedUrl } from './pg-errors.js';
import { PostgresJobStore } from './postgres-job-store.js';

describe('PostgresJobStore with no database to talk to', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });
  /** A loopback port that accepts connections and never says a word (a hung server). */
  const silentPort = async (): Promise<number> => {
    const server = createServer((socket) => sockets.push(socket));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  };
  /** A loopback port nothing listens on. */
  const closedPort = async (): Promise<number> => {
    const port = await silentPort();
    await new Promise((resolve) => servers.pop()!.close(resolve));
    return port;
  };

  it.each([
    ['refuses connections', closedPort],
    ['accepts connections and never answers', silentPort],
  ])(
    'rejects open() with `unavailable` when the server %s, within the connect timeout',
    async (_name, port) => {
      const url = `postgres://gateway:secret@127.0.0.1:${await port()}/jobs`;
      const store = new PostgresJobStore(url, { connectTimeoutMs: 300 });
      const started = Date.now();
      const opening = store.open();
      await expect(opening).rejects.toMatchObject({ code: 'unavailable' });
      await expect(opening).rejects.toThrow(/opening the job store: the job database .*127\.0\.0\.1/);
      await expect(opening).rejects.not.toThrow(/secret/);
      expect(Date.now() - started).toBeLessThan(3_000);
      await store.close();
    },
  );

  it('refuses writes and reads on a store that is not open, or closed', async () => {
    const store = new PostgresJobStore('postgres://127.0.0.1:1/jobs');
    await expect(store.insert(testJob('a'))).rejects.toMatchObject({ code: 'closed' });
    await expect(store.get('a')).rejects.toMatchObject({ code: 'closed' });
    await store.close();
    await expect(store.transition('a', 'running')).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('pg errors', () => {
  it.each([
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      true,
    ],
    [
      'every address refused',
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'all failed'),
      true,
    ],
    ['a server shutting down (57P01)', Object.assign(new Error('terminating'), { code: '57P01' }), true],
    ['a connection exception (08006)', Object.assign(new Error('failure'), { code: '08006' }), true],
    ['too many connections (53300)', Object.assign(new Error('too many'), { code: '53300' }), true],
    ['a lost connection', new Error('Connection terminated unexpectedly'), true],
    ['a query past its timeout', new Error('Query read timeout'), true],
    ['a unique violation (23505)', Object.assign(new Error('duplicate key'), { code: '23505' }), false],
    ['a disk full (53100)', Object.assign(new Error('could not extend file'), { code: '53100' }), false],
    ['a bug', new TypeError('x is not a function'), false],
  ])('%s is unavailable: %s', (_name, err, unavailable) => {
    expect(isUnavailable(err)).toBe(unavailable);
  });

  it.each([
    ['postgres://user:pw@db:5432/jobs', 'postgres://user:***@db:5432/jobs'],
    ['postgres://db/jobs?password=pw&sslmode=require', 'postgres://db/jobs?password=***&sslmode=require'],
    ['postgres://db/jobs', 'postgres://db/jobs'],
    ['not a url', '(an unparsable URL)'],
  ])('redacts %s', (url, redacted) => {
    expect(redactedUrl(url)).toBe(redacted);
  });
});
