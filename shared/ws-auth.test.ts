import { describe, expect, it } from 'vitest';
import { chooseProtocol, keyFromProtocols, WS_PROTOCOL, wsProtocols } from './ws-auth.js';

describe('WebSocket bearer protocols', () => {
  it.each([['alpha-key'], ['ключ/with+slashes=='], ['a'.repeat(200)]])('carries %j there and back', (key) => {
    const protocols = wsProtocols(key);
    expect(protocols[0]).toBe(WS_PROTOCOL);
    // Tokens in Sec-WebSocket-Protocol may not hold / + = or non-ASCII (RFC 6455 4.1).
    expect(protocols[1]).toMatch(/^codeexec\.bearer\.[A-Za-z0-9_-]+$/);
    expect(keyFromProtocols(protocols.join(', '))).toBe(key);
  });

  it('sends only the protocol name without a key, and finds no key in it', () => {
    expect(wsProtocols(null)).toEqual(['codeexec']);
    expect(keyFromProtocols('codeexec')).toBeNull();
    expect(keyFromProtocols(undefined)).toBeNull();
  });

  it('finds no key in a malformed bearer entry', () => {
    expect(keyFromProtocols('codeexec, codeexec.bearer.not*base64')).toBeNull();
    expect(keyFromProtocols('codeexec.bearer.__8')).toBeNull(); // not UTF-8
  });

  it('chooses codeexec over the bearer entry, else the first offered, else none', () => {
    expect(chooseProtocol(wsProtocols('secret').reverse().join(','))).toBe('codeexec');
    expect(chooseProtocol('graphql-ws, other')).toBe('graphql-ws');
    expect(chooseProtocol(undefined)).toBe('');
  });
});
