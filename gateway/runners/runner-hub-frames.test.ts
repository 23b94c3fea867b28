// The runner hub's frame parsing: output frames take a hand-written check (shared/output-frame.ts)
// instead of the full schema parse, and must still be refused exactly as before: the same error
// frame (code and message) for every bad one, and nothing relayed.
import { describe, expect, it } from 'vitest';
import {
  type CodeexecError,
  PROTOCOL_VERSION,
  parse,
  RunnerToGatewayFrame,
  silentLogger,
} from '../../shared/index.js';
import { recordingSocket } from '../../test/recording-socket.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import { RunnerHub, type RunnerHubOptions } from './runner-hub.js';

/** A hub whose dispatcher only records the output it is given, and a socket that records frames. */
function setUp() {
  const relayed: unknown[] = [];
  const dispatcher = {
    runnerReady: () => {},
    runnerGone: () => {},
    output: (_runner: unknown, jobId: string, event: unknown) => relayed.push({ jobId, event }),
  } as unknown as Dispatcher;
  const sessions = { runnerGone: () => {} };
  const registry = { get: () => undefined, size: 0 };
  const hub = new RunnerHub({
    dispatcher,
    registry,
    sessions,
    log: silentLogger,
    tokens: ['secret-token'],
    heartbeatMs: 60_000,
    leaseMs: 60_000,
  } as unknown as RunnerHubOptions);
  const { socket, sent } = recordingSocket();
  hub.open(socket);
  hub.message(
    socket,
    JSON.stringify({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      token: 'secret-token',
      name: 'r1',
      version: 'test',
      languages: [{ name: 'python', version: '3.11', aliases: [] }],
      slots: 1,
    }),
  );
  expect(sent.shift()?.type).toBe('welcome');
  return { hub, socket, sent, relayed, stop: () => hub.shutdown() };
}

/** The error the full schema parse gives for `frame`. */
function schemaError(frame: unknown): { code: string; message: string } {
  try {
    parse(RunnerToGatewayFrame, frame, 'invalid_frame');
  } catch (err) {
    const error = err as CodeexecError;
    return { code: error.code, message: error.message };
  }
  throw new Error(`the schema accepts ${JSON.stringify(frame)}`);
}

const good = { type: 'output', job_id: 'job-1', stream: 'stdout', seq: 0, data: 'hi\n' };

describe('RunnerHub output frames', () => {
  it('relays a good output frame, without its unknown fields', () => {
    const { hub, socket, sent, relayed, stop } = setUp();
    hub.message(socket, JSON.stringify({ ...good, extra: true }));
    expect(sent).toEqual([]);
    expect(relayed).toEqual([{ jobId: 'job-1', event: good }]);
    stop();
  });

  it.each([
    ['no job_id', { ...good, job_id: undefined }],
    ['an empty job_id', { ...good, job_id: '' }],
    ['a job_id of 129 characters', { ...good, job_id: 'x'.repeat(129) }],
    ['a numeric job_id', { ...good, job_id: 7 }],
    ['an unknown stream', { ...good, stream: 'stdin' }],
    ['no stream', { ...good, stream: undefined }],
    ['a negative seq', { ...good, seq: -1 }],
    ['a fractional seq', { ...good, seq: 1.5 }],
    ['a string seq', { ...good, seq: '1' }],
    ['a null seq', { ...good, seq: null }],
    ['numeric data', { ...good, data: 42 }],
    ['no data', { ...good, data: undefined }],
    ['everything wrong', { type: 'output', job_id: '', stream: 1, seq: -0.5, data: null }],
  ])('refuses an output frame with %s: the schema error, nothing relayed', (_name, frame) => {
    const { hub, socket, sent, relayed, stop } = setUp();
    hub.message(socket, JSON.stringify(frame));
    expect(relayed).toEqual([]);
    expect(sent).toEqual([{ type: 'error', ...schemaError(JSON.parse(JSON.stringify(frame))) }]);
    expect(sent[0]!.code).toBe('invalid_frame');
    expect(sent[0]!.message).not.toBe('');
    stop();
  });

  it('refuses text that is not JSON, as before', () => {
    const { hub, socket, sent, relayed, stop } = setUp();
    hub.message(socket, '{"type":"output",');
    expect(relayed).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect(sent[0]!.message).toMatch(/not valid JSON/);
    stop();
  });
});
