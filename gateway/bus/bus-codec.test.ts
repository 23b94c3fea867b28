// Bus messages through bytes: what goes out comes back equal; anything else is refused with a
// reason (the NATS bus logs it and drops the message) instead of reaching a handler.
import { describe, expect, it } from 'vitest';
import { newJob } from '../jobs/new-job.js';
import type { ControlMessage, JobMessage } from './bus.js';
import { ControlMessageSchema, decode, encode, JobMessageSchema } from './bus-codec.js';

const job = newJob(
  { lang: 'python', code: 'print(1)' },
  { lang: 'python', interactive: false, client: null },
);
const compile = {
  stdout: '',
  stderr: 'warning',
  output: 'warning',
  exit_code: 0,
  signal: null,
  reason: 'exited' as const,
  wall_ms: 12,
  truncated: false,
};

describe('bus codec', () => {
  it.each<JobMessage>([
    { type: 'started', job },
    { type: 'stage', stage: 'run', compile },
    { type: 'stage', stage: 'compile' },
    { type: 'output', event: { stream: 'stdout', seq: 3, data: 'hé\u0000llo\n' } },
    { type: 'gap', gap: { from_seq: 4, to_seq: null, reason: 'not_received' } },
    { type: 'end', job: { ...job, status: 'done', stdout: 'x'.repeat(100_000) } },
  ])('carries a $type message', (message) => {
    expect(decode(JobMessageSchema, encode(message))).toEqual({ ok: true, value: message });
  });

  it.each<ControlMessage>([
    { type: 'stdin', data: 'line\n' },
    { type: 'stdin_eof' },
    { type: 'signal', signal: 'SIGINT' },
    { type: 'cancel' },
  ])('carries a $type control message', (message) => {
    expect(decode(ControlMessageSchema, Buffer.from(JSON.stringify(message)))).toEqual({
      ok: true,
      value: message,
    });
  });

  it.each([
    ['not JSON', 'hello', /not JSON/],
    ['truncated JSON', '{"type":"output","event":{', /not JSON/],
    ['an unknown type', '{"type":"explode"}', /type/],
    ['a wrong field', '{"type":"output","event":{"stream":"stdin","seq":1,"data":""}}', /event\.stream/],
    ['a missing field', '{"type":"end"}', /job/],
    ['not an object', '42', /root/],
  ])('refuses %s', (_name, text, reason) => {
    const decoded = decode(JobMessageSchema, Buffer.from(text));
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toMatch(reason);
  });

  it('refuses a signal the protocol does not know', () => {
    expect(decode(ControlMessageSchema, Buffer.from('{"type":"signal","signal":"SIGSEGV"}')).ok).toBe(false);
  });
});
