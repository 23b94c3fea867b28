// Job ids as subject tokens: the gateway's UUIDs as they are; any other id (a client can name
// one in a URL) hashed, so no id can reach a wildcard, another token or another job's subject.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { controlSubject, jobSubject, jobToken } from './nats-subjects.js';

/** What NATS accepts in one token of a subject to publish on. */
const TOKEN = /^[^\s.*>]+$/;

describe('jobToken', () => {
  it('keeps the gateway’s ids as they are', () => {
    const id = randomUUID();
    expect(jobToken(id)).toBe(id);
    expect(jobSubject(id)).toBe(`codeexec.job.${id}`);
    expect(controlSubject(id)).toBe(`codeexec.control.${id}`);
  });

  it.each([
    'a.b',
    '*',
    '>',
    'a b',
    'tab\there',
    'new\nline',
    '',
    '~abc',
    'é',
    'x'.repeat(65),
    'x'.repeat(10_000),
  ])('makes %j one safe token', (id) => {
    const token = jobToken(id);
    expect(token).toMatch(TOKEN);
    expect(token.startsWith('~')).toBe(true);
    expect(token.length).toBeLessThanOrEqual(44);
  });

  it('keeps different ids apart', () => {
    const ids = ['a.b', 'a_b', 'a-b', 'ab', '~ab', 'a b', 'A.B'];
    expect(new Set(ids.map(jobToken)).size).toBe(ids.length);
  });
});
