// The runner endpoint over the real core (fake clock, in-memory store) with a socket that only
// records frames: the handshake, and the frames a runner sends about itself — languages that
// finished building, pause and resume, slots — each changing what it is offered.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, silentLogger } from '../../shared/index.js';
import { recordingSocket } from '../../test/recording-socket.js';
import { type Core, dispatchCore, result } from '../jobs/dispatcher-fixture.js';
import { RunnerHub } from './runner-hub.js';

let core: Core;
let hub: RunnerHub;
beforeEach(() => {
  core = dispatchCore();
  hub = new RunnerHub({
    dispatcher: core.dispatcher,
    registry: core.registry,
    sessions: core.sessions,
    log: silentLogger,
    tokens: ['t0ken'],
    heartbeatMs: 60_000,
    leaseMs: 60_000,
  });
});
afterEach(() => {
  hub.shutdown();
  core.close();
});

function connect(hello: Record<string, unknown> = {}) {
  const { socket, sent } = recordingSocket();
  hub.open(socket);
  const say = (frame: object) => hub.message(socket, JSON.stringify(frame));
  say({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    token: 't0ken',
    name: 'r1',
    version: 'test',
    languages: [{ name: 'python', version: '3.11', aliases: ['py'] }],
    slots: 2,
    ...hello,
  });
  expect(sent.shift()).toMatchObject({ type: 'welcome', runner_id: 'r1' });
  const offers = () => sent.filter((f) => f.type === 'offer').map((f) => f.job.id as string);
  return { say, sent, offers };
}

const submit = (lang = 'python') => core.intake.submit({ lang, code: 'x' }).job;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('RunnerHub', () => {
  it('takes the languages a runner builds from its hello, and offers them once its languages frame says so', async () => {
    const runner = connect({ building: ['bash'] });
    expect(core.registry.get('r1')?.building).toEqual(['bash']);
    const job = submit('bash');
    await settle();
    expect(runner.offers()).toEqual([]);
    runner.say({
      type: 'languages',
      languages: [
        { name: 'python', version: '3.11', aliases: ['py'] },
        { name: 'bash', version: '5.2', aliases: ['sh'] },
      ],
      building: [],
    });
    expect(runner.offers()).toEqual([job.id]);
    expect(core.registry.languageSummary().get('bash')).toMatchObject({
      runners: 1,
      building: 0,
      versions: ['5.2'],
    });
  });

  it('offers nothing while the runner is paused, and resumes with its new slots', async () => {
    const runner = connect({ paused: true });
    const first = submit();
    const second = submit();
    await settle();
    expect(runner.offers()).toEqual([]);
    runner.say({ type: 'capacity', slots: 1, paused: false });
    expect(runner.offers()).toEqual([first.id]);
    runner.say({ type: 'capacity', slots: 1, paused: true });
    runner.say({ type: 'accept', job_id: first.id });
    runner.say({
      type: 'done',
      job_id: first.id,
      result: result(''),
    });
    expect(runner.offers()).toEqual([first.id]);
    runner.say({ type: 'capacity', slots: 2, paused: false });
    expect(runner.offers()).toEqual([first.id, second.id]);
  });

  it('refuses a bad capacity frame with an error frame, and changes nothing', () => {
    const runner = connect();
    runner.say({ type: 'capacity', slots: 0, paused: false });
    expect(runner.sent.at(-1)).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect(core.registry.get('r1')?.slots).toBe(2);
  });
});

describe('RunnerHub.shutdown', () => {
  /** A recording socket that also keeps how it was closed. */
  function closingSocket() {
    const { socket, sent } = recordingSocket();
    const closes: [number, string][] = [];
    socket.close = (code, reason) => closes.push([code, reason]);
    return { socket, sent, closes };
  }

  it('tells every runner goaway with its own wait in [n, 2n), then closes with 1001', () => {
    const sockets = Array.from({ length: 40 }, (_, i) => {
      const s = closingSocket();
      hub.open(s.socket);
      // One still handshaking: it is told too.
      if (i > 0) {
        hub.message(
          s.socket,
          JSON.stringify({
            type: 'hello',
            protocol: PROTOCOL_VERSION,
            token: 't0ken',
            name: `r${i}`,
            version: 't',
            languages: [],
            slots: 1,
          }),
        );
        expect(s.sent.shift()).toMatchObject({ type: 'welcome' });
      }
      return s;
    });
    hub.shutdown(300);
    const waits = sockets.map(({ sent, closes }) => {
      expect(sent).toEqual([{ type: 'goaway', reconnect_after_ms: expect.any(Number) }]);
      expect(closes).toEqual([[1001, 'gateway going away']]);
      return sent[0]?.reconnect_after_ms as number;
    });
    for (const wait of waits) {
      expect(Number.isInteger(wait)).toBe(true);
      expect(wait).toBeGreaterThanOrEqual(300);
      expect(wait).toBeLessThan(600);
    }
    // Jittered: forty runners do not all get one value.
    expect(new Set(waits).size).toBeGreaterThan(1);
  });

  it('sends goaway with 0 for 0, and refuses a wait that is not an integer ≥ 0', () => {
    const s = closingSocket();
    hub.open(s.socket);
    expect(() => hub.shutdown(-1)).toThrow(RangeError);
    expect(() => hub.shutdown(1.5)).toThrow(RangeError);
    expect(s.sent).toEqual([]);
    hub.shutdown(0);
    expect(s.sent).toEqual([{ type: 'goaway', reconnect_after_ms: 0 }]);
  });
});
