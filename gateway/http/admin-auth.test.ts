import { describe, expect, it } from 'vitest';
import { wsProtocols } from '../../shared/index.js';
import { AdminAuth } from './admin-auth.js';

describe('AdminAuth without admin keys', () => {
  const open = new AdminAuth([]);

  it.each([['127.0.0.1'], ['::1'], ['::ffff:127.0.0.1']])('lets a caller on loopback (%s) in', (address) => {
    expect(() => open.checkCaller({}, address)).not.toThrow();
  });

  it('refuses a caller from elsewhere', () => {
    expect(() => open.checkCaller({}, '10.0.0.8')).toThrow(/only on the gateway machine/);
  });

  it.each([
    ['x-forwarded-for', '203.0.113.9'],
    ['forwarded', 'for=203.0.113.9'],
    ['x-real-ip', '203.0.113.9'],
  ])('refuses a loopback caller that came through a proxy (%s)', (header, value) => {
    expect(() => open.checkCaller({ [header]: value }, '127.0.0.1')).toThrow(/through a proxy/);
  });
});

describe('AdminAuth with admin keys', () => {
  const keyed = new AdminAuth(['admin-key']);

  it('takes the key from Authorization or a browser socket protocol, from anywhere, proxied or not', () => {
    const headers = { authorization: 'Bearer admin-key', 'x-forwarded-for': '203.0.113.9' };
    expect(() => keyed.checkCaller(headers, '127.0.0.1')).not.toThrow();
    const protocol = { 'sec-websocket-protocol': wsProtocols('admin-key').join(', ') };
    expect(() => keyed.checkCaller(protocol, '198.51.100.7')).not.toThrow();
  });

  it('refuses a missing or wrong key even on loopback', () => {
    expect(() => keyed.checkCaller({}, '127.0.0.1')).toThrow(/needs an admin key/);
    expect(() => keyed.checkCaller({ authorization: 'Bearer nope' }, '127.0.0.1')).toThrow(
      /needs an admin key/,
    );
  });
});
