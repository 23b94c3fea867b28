import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JobControl, JobInput, signalArgv } from './job-control.js';

/** A sink that takes nothing until told to: it backs up after one small buffer. */
function stuckSink() {
  const taken: Buffer[] = [];
  let release: (() => void) | null = null;
  const sink = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _enc, done) {
      taken.push(chunk);
      release = done;
    },
  });
  return { sink, taken, next: () => release?.() };
}

describe('JobInput', () => {
  it('holds input until attached, writes it in order, and ends the sink at end()', async () => {
    const input = new JobInput();
    input.write(Buffer.from('a'));
    input.write(Buffer.from('b'));
    const sink = new PassThrough();
    input.attach(sink);
    input.write(Buffer.from('c'));
    input.end();
    const chunks: Buffer[] = [];
    for await (const chunk of sink) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abc');
  });

  it('writes only while the sink is not backed up, and resumes on drain', () => {
    const input = new JobInput();
    const { sink, taken, next } = stuckSink();
    input.attach(sink);
    for (const s of ['12345', '6', '7']) input.write(Buffer.from(s));
    expect(taken.map(String)).toEqual(['12345']);
    expect(input.pendingBytes).toBe(2);
    next();
    expect(taken.map(String)).toEqual(['12345', '6']);
  });

  it('overflows past its cap: drops what it held, calls onOverflow once, takes nothing more', () => {
    const input = new JobInput(8);
    let overflows = 0;
    input.onOverflow = () => overflows++;
    input.write(Buffer.from('12345'));
    input.write(Buffer.from('6789'));
    input.write(Buffer.from('x'));
    expect({ overflowed: input.overflowed, overflows, pending: input.pendingBytes }).toEqual({
      overflowed: true,
      overflows: 1,
      pending: 0,
    });
  });
});

describe('JobControl', () => {
  it('queues signals until the run stage starts, sends them in order, then none after it ends', async () => {
    const control = new JobControl(false);
    expect(control.input).toBeNull();
    const sent: string[] = [];
    control.signal('SIGINT');
    control.signal('SIGKILL');
    // The first delivery is slow (held until released): the later ones must wait for it.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let allSent: () => void = () => {};
    const three = new Promise<void>((resolve) => {
      allSent = resolve;
    });
    control.runStarted(async (name) => {
      if (name === 'SIGINT') await held;
      sent.push(name);
      if (sent.length === 3) allSent();
    });
    control.signal('SIGTERM');
    await Promise.resolve();
    expect(sent).toEqual([]);
    release();
    await three;
    control.runEnded();
    control.signal('SIGHUP');
    expect(sent).toEqual(['SIGINT', 'SIGKILL', 'SIGTERM']);
    expect(control.sentKill).toBe(true);
  });

  it('passes the name without SIG to the signal script, as a parameter', () => {
    expect(signalArgv('SIGUSR1').slice(-2)).toEqual(['sh', 'USR1']);
  });
});
