// End to end: the nats-server two gateways share restarts while a client of gateway B follows a
// job running on gateway A's runner. Whatever the bus lost while it was away, B's client is told
// of as a gap (never a silent hole), what did arrive arrives once and in order, and the job's
// end still comes, its stored result whole.
import { describe, expect, it } from 'vitest';
import { startGateway, startRunner, teardown } from './helpers.js';
import { startNatsServer } from './nats-server.js';
import { startPostgres } from './postgres-server.js';
import { TestSocket } from './ws-client.js';

const LINES = 'import time\nfor i in range(50):\n    print(f"line {i}", flush=True)\n    time.sleep(0.08)\n';
const EXPECTED = Array.from({ length: 50 }, (_v, i) => `line ${i}\n`).join('');

describe('a bus that restarts under a live stream', () => {
  it('leaves no silent hole in what a client of another gateway receives', async () => {
    const postgres = await startPostgres();
    const nats = await startNatsServer();
    const store = await postgres.createDatabase();
    const a = await startGateway({ store, bus: nats.url });
    const b = await startGateway({ store, bus: nats.url, runnerTokens: [a.token] });
    const runner = await startRunner({ gatewayUrl: a.url, token: a.token, languages: ['python'] });
    await runner.connected();

    const onA = await TestSocket.open(`${a.url}/execute/ws`);
    teardown(() => onA.close());
    onA.send({ type: 'execute', id: 'job', lang: 'python', code: LINES });
    const { job_id: jobId } = await onA.next((f) => f.type === 'accepted');
    await onA.next((f) => f.type === 'stdout');
    const onB = await TestSocket.open(`${b.url}/execute/ws`);
    teardown(() => onB.close());
    onB.send({ type: 'resume', id: 'follow', job_id: jobId });
    await onB.next((f) => f.type === 'resumed');
    await onB.next((f) => f.type === 'stdout');

    await nats.stop();
    await nats.start();
    const exit = await onB.next((f) => f.type === 'exit', 30_000);
    expect(exit.result).toMatchObject({ status: 'done', stdout: EXPECTED });

    // Every seq from B's first relayed chunk to its last arrived once, or lies in a gap it sent.
    const frames = onB.frames.filter((f) => f.type === 'stdout' || f.type === 'gap');
    const seqs = frames.filter((f) => f.type === 'stdout').map((f) => f.seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    const gaps = frames.filter((f) => f.type === 'gap');
    const covered = (seq: number) =>
      seqs.includes(seq) ||
      gaps.some((g) => g.from_seq <= seq && (g.to_seq === null || seq <= (g.to_seq as number)));
    const first = seqs[0]!;
    const last = seqs.at(-1)!;
    const holes = Array.from({ length: last - first + 1 }, (_v, k) => first + k).filter(
      (seq) => !covered(seq),
    );
    expect(holes).toEqual([]);
    // What arrived is the program's output, in its order.
    const relayed = onB.frames.filter((f) => f.type === 'stdout').map((f) => f.data as string);
    let at = 0;
    for (const piece of relayed) {
      const found = EXPECTED.indexOf(piece, at);
      expect(found, piece).toBeGreaterThanOrEqual(0);
      at = found + piece.length;
    }
    console.log(
      JSON.stringify({ relayed_chunks: seqs.length, gaps: gaps.map((g) => [g.from_seq, g.to_seq]) }),
    );
  }, 90_000);
});
