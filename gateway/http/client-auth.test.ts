import { describe, expect, it } from 'vitest';
import { CodeexecError, wsProtocols } from '../../shared/index.js';
import { ClientAuth } from './client-auth.js';

const auth = new ClientAuth(['alpha-key', 'beta-key']);

describe('ClientAuth with keys', () => {
  it.each([['Bearer alpha-key'], ['bearer alpha-key'], ['Bearer   alpha-key  ']])(
    'accepts %j and names the key by a fingerprint, never the key',
    (header) => {
      const id = auth.identify({ authorization: header }, '127.0.0.1');
      expect(id).toMatch(/^key:[0-9a-f]{12}$/);
      expect(id).not.toContain('alpha');
    },
  );

  it('gives each key its own stable id', () => {
    const a = auth.identify({ authorization: 'Bearer alpha-key' }, '10.0.0.1');
    const b = auth.identify({ authorization: 'Bearer beta-key' }, '10.0.0.1');
    expect(a).not.toBe(b);
    expect(
      new ClientAuth(['beta-key', 'alpha-key']).identify({ authorization: 'Bearer alpha-key' }, ''),
    ).toBe(a);
  });

  it.each([
    ['no header', {}, /requires an API key/],
    ['another scheme', { authorization: 'Basic YWxwaGEta2V5' }, /must be `Bearer <key>`/],
    ['an empty bearer', { authorization: 'Bearer ' }, /must be `Bearer <key>`/],
    ['a wrong key', { authorization: 'Bearer alpha-kex' }, /not valid/],
    ['a key prefix', { authorization: 'Bearer alpha' }, /not valid/],
    ['two tokens', { authorization: 'Bearer alpha-key beta-key' }, /must be `Bearer <key>`/],
  ])('refuses %s with 401 unauthorized', (_name, headers: Record<string, string>, message) => {
    let error: unknown;
    try {
      auth.identify(headers, '127.0.0.1');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CodeexecError);
    expect((error as CodeexecError).code).toBe('unauthorized');
    expect((error as CodeexecError).status).toBe(401);
    expect((error as CodeexecError).message).toMatch(message);
  });
});

describe('ClientAuth without keys', () => {
  const open = new ClientAuth([]);
  it('is open and names clients by address', () => {
    expect(open.enabled).toBe(false);
    expect(open.identify({}, '127.0.0.1')).toBe('addr:127.0.0.1');
    expect(open.identify({ authorization: 'Bearer whatever' }, '::1')).toBe('addr:::1');
  });
});

describe('ClientAuth on a browser WebSocket upgrade', () => {
  it('takes the key from Sec-WebSocket-Protocol, naming it as the header would', () => {
    const byHeader = auth.identify({ authorization: 'Bearer beta-key' }, '');
    const protocol = wsProtocols('beta-key').join(', ');
    expect(auth.identify({ 'sec-websocket-protocol': protocol }, '')).toBe(byHeader);
  });

  it('refuses a wrong key there, and a protocol list without one', () => {
    const wrong = { 'sec-websocket-protocol': wsProtocols('gamma-key').join(', ') };
    expect(() => auth.identify(wrong, '')).toThrow(/not valid/);
    expect(() => auth.identify({ 'sec-websocket-protocol': 'codeexec' }, '')).toThrow(/requires an API key/);
  });
});

describe('ClientAuth with a ?key= (Piston routes)', () => {
  it('takes the query key when no Authorization header came, naming it as the header would', () => {
    const byHeader = auth.identify({ authorization: 'Bearer alpha-key' }, '');
    expect(auth.identify({}, '', 'alpha-key')).toBe(byHeader);
  });

  it('judges by the header alone when there is one', () => {
    expect(() => auth.identify({ authorization: 'Bearer nope' }, '', 'alpha-key')).toThrow(/not valid/);
    expect(auth.identify({ authorization: 'Bearer beta-key' }, '', 'nope')).toBe(
      auth.identify({ authorization: 'Bearer beta-key' }, ''),
    );
  });

  it.each([
    ['a wrong key', 'alpha-kex', /not valid/],
    ['an empty one', '', /requires an API key/],
  ])('refuses %s', (_name, key, message) => {
    expect(() => auth.identify({}, '', key)).toThrow(message);
  });
});
