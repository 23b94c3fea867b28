// CODEEXEC_BUS: what it may say, and the error for anything else (never echoing a password).
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/index.js';
import { InProcessBus } from './in-process-bus.js';
import { openBus, parseBusSpec } from './open-bus.js';

describe('parseBusSpec', () => {
  it.each([
    [undefined, { kind: 'in-process' }],
    ['', { kind: 'in-process' }],
    ['  ', { kind: 'in-process' }],
    ['nats://127.0.0.1:4222', { kind: 'nats', servers: ['127.0.0.1:4222'] }],
    ['nats://nats.internal', { kind: 'nats', servers: ['nats.internal:4222'] }],
    ['nats://a:1/, nats://b:2', { kind: 'nats', servers: ['a:1', 'b:2'] }],
    ['nats://[::1]:4222', { kind: 'nats', servers: ['[::1]:4222'] }],
  ])('%j → %j', (spec, expected) => {
    expect(parseBusSpec(spec)).toEqual(expected);
  });

  it.each([
    ['redis://127.0.0.1:6379', /CODEEXEC_BUS must be .*redis:/],
    ['127.0.0.1:4222', /CODEEXEC_BUS must be/],
    ['nats', /not a URL/],
    ['nats://', /without a host/],
    ['nats://h:4222/subject', /a path or a query/],
    ['nats://h:4222?x=1', /a path or a query/],
    ['nats://a:1,http://b:2', /http:/],
    ['nats://user:secret@h:4222', /credentials in the URL are not supported/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseBusSpec(spec)).toThrow(message);
  });

  it('never repeats a password in its error', () => {
    expect(() => parseBusSpec('nats://user:secret@h:4222')).toThrow(/nats:\/\/\*\*\*@h:4222/);
    expect(() => parseBusSpec('redis://user:secret@h')).not.toThrow(/secret/);
  });
});

describe('openBus', () => {
  it('opens the in-process bus without a spec', async () => {
    const bus = await openBus(undefined, silentLogger);
    expect(bus).toBeInstanceOf(InProcessBus);
    await bus.close();
  });

  it('says which server did not answer', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    await expect(openBus('nats://127.0.0.1:1', silentLogger)).rejects.toThrow(
      /CODEEXEC_BUS: no NATS server answered at 127\.0\.0\.1:1/,
    );
  });
});
