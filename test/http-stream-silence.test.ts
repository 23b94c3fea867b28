// A streamed response outlives 12 s of silence on both transports, backpressure or not: the one
// transport test that waits on the clock (it probes timers), so it runs with the slow suites, not
// in `npm run test:unit`. Fixtures: gateway/transport/http-stream-fixture.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'vitest';
import { Body, fillPastHighWater, KINDS, serve } from '../gateway/transport/http-stream-fixture.js';

// The one test here that waits on the clock: it probes timers. uWS cuts an HTTP connection after
// 10 s without traffic in some states (uws-http-stream.ts: after backpressure, unless handled);
// node:http has a 10 s requestTimeout and a 5 s keepAliveTimeout. An SSE stream may be silent
// for its heartbeat interval, so a stream must outlive 12 s of silence on both, backpressure or
// not. The four cases run at once (~12 s in all).
describe('a streamed response outlives 12 s of silence', () => {
  const cases = KINDS.flatMap((kind) => [
    { kind, burst: false, name: `${kind}: after one event` },
    { kind, burst: true, name: `${kind}: after backpressure` },
  ]);
  it.concurrent.for(cases)(
    '$name',
    { timeout: 15_000 },
    async ({ kind, burst }, { expect, onTestFinished }) => {
      const { url, streamed } = await serve(kind, onTestFinished);
      const response = await fetch(url);
      const { out } = await streamed;
      let closeCalls = 0;
      out.onClose(() => closeCalls++);
      const body = new Body(response);
      await body.until(': open\n\n');
      if (burst) await body.readPast(fillPastHighWater(out));
      out.write('data: 1\n\n');
      await body.until('data: 1\n\n');

      await sleep(12_000);
      expect(closeCalls).toBe(0);
      expect(out.write('data: 2\n\n')).toBe(true);
      await body.until('data: 2\n\n');
      out.end();
      expect(await body.end()).toBe('');
    },
  );
});
