import { describe, expect, it } from 'vitest';
import { endOf, socketUrl } from './gateway-socket.js';

describe('the gateway socket', () => {
  it.each([
    ['http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/execute/ws'],
    ['https://gw.example/', 'wss://gw.example/execute/ws'],
    // Behind a proxy prefix, and with a share link's fragment and a query.
    [
      'https://example.org/tools/codeexec/?x=1#lang=python&code=cA',
      'wss://example.org/tools/codeexec/execute/ws',
    ],
  ])('is execute/ws relative to the page %s', (page, url) => {
    expect(socketUrl(page)).toBe(url);
  });

  it('tells a refused key (4401) from a dropped connection', () => {
    expect(endOf(4401, 'The API key is not valid')).toEqual({
      kind: 'unauthorized',
      code: 4401,
      reason: 'The API key is not valid',
    });
    expect(endOf(1006, '').kind).toBe('dropped');
    expect(endOf(1001, 'going away').kind).toBe('dropped');
  });
});
