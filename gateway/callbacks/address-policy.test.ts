// The callback address policy on plain data: every class, the IPv6 forms that embed an IPv4
// address, the allowlist, and the odd spellings of hosts that URLs normalize.
import { describe, expect, it } from 'vitest';
import { type AddressClass, CallbackAllowlist, checkAddress, classifyAddress } from './address-policy.js';

describe('classifyAddress', () => {
  it.each<[string, AddressClass | null]>([
    // IPv4
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['169.254.169.254', 'link_local'],
    ['169.254.0.1', 'link_local'],
    ['192.0.0.170', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['192.88.99.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    // IPv4 just outside those ranges: public
    ['8.8.8.8', null],
    ['1.1.1.1', null],
    ['9.255.255.255', null],
    ['11.0.0.0', null],
    ['126.255.255.255', null],
    ['128.0.0.0', null],
    ['172.15.255.255', null],
    ['172.32.0.0', null],
    ['192.167.255.255', null],
    ['192.169.0.0', null],
    ['100.63.255.255', null],
    ['100.128.0.0', null],
    ['169.253.255.255', null],
    ['169.255.0.0', null],
    ['198.17.255.255', null],
    ['198.20.0.0', null],
    ['223.255.255.255', null],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'private'], // AWS metadata over IPv6
    ['fec0::1', 'private'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf:ffff::1', 'link_local'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['100::1', 'reserved'],
    ['2001::1', 'reserved'], // Teredo
    ['64:ff9b:1::a00:1', 'reserved'], // local-use NAT64
    ['4000::1', 'reserved'], // outside global unicast
    ['::2', 'unspecified'], // IPv4-compatible 0.0.0.2
    ['::1:0:0:0', 'reserved'],
    ['2606:4700:4700::1111', null],
    ['2a00:1450:4001::200e', null],
    ['2001:4860:4860::8888', null],
    // IPv4-mapped: the IPv4 address itself
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link_local'],
    ['::ffff:a9fe:a9fe', 'link_local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', null],
    // IPv4-compatible (deprecated)
    ['::127.0.0.1', 'loopback'],
    ['::7f00:1', 'loopback'],
    ['::a9fe:a9fe', 'link_local'],
    ['::8.8.8.8', 'reserved'],
    // NAT64 (well-known prefix)
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link_local'],
    ['64:ff9b::c0a8:101', 'private'],
    ['64:ff9b::808:808', null],
    // 6to4 embedding its IPv4 address in bits 16-47
    ['2002:7f00:1::', 'loopback'],
    ['2002:a00:1::1', 'private'],
    ['2002:a9fe:a9fe::', 'link_local'],
    ['2002:c0a8:101:1::1', 'private'],
    ['2002:808:808::1', null],
  ])('%s → %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it('throws for what is not an IP address', () => {
    expect(() => classifyAddress('localhost')).toThrow(/not an IP address/);
  });
});

/** The host of a URL as the socket sees it (what the guard checks): WHATWG URL normalizes it. */
const hostOf = (url: string) => new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');

describe('hosts spelled oddly reach the policy normalized', () => {
  it.each<[string, string, AddressClass]>([
    ['http://0x7f.1/', '127.0.0.1', 'loopback'],
    ['http://2130706433/', '127.0.0.1', 'loopback'],
    ['http://017700000001/', '127.0.0.1', 'loopback'],
    ['http://127.1/', '127.0.0.1', 'loopback'],
    ['http://0/', '0.0.0.0', 'unspecified'],
    ['http://0xa9fea9fe/', '169.254.169.254', 'link_local'],
    ['http://169.254.43518/', '169.254.169.254', 'link_local'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'loopback'],
    ['http://[0:0:0:0:0:ffff:169.254.169.254]/', '::ffff:a9fe:a9fe', 'link_local'],
    ['http://[::1]:8080/', '::1', 'loopback'],
    ['http://[0000::1]/', '::1', 'loopback'],
    ['http://[FE80::1]/', 'fe80::1', 'link_local'],
    ['http://[::127.0.0.1]/', '::7f00:1', 'loopback'],
    ['http://[64:ff9b::10.0.0.1]/', '64:ff9b::a00:1', 'private'],
  ])('%s → %s, %s', (url, host, expected) => {
    expect(hostOf(url)).toBe(host);
    expect(classifyAddress(host)).toBe(expected);
  });
});

describe('CallbackAllowlist', () => {
  const allow = CallbackAllowlist.parse([
    '127.0.0.1/32',
    '10.1.0.0/16',
    '192.168.7.7',
    'fd00::/8',
    '::1',
    'Hooks.Internal',
    'localhost',
  ]);

  it.each<[string, boolean]>([
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['::ffff:127.0.0.1', true], // the same destination
    ['::ffff:7f00:1', true],
    ['64:ff9b::7f00:1', false], // a translator's address, not 127.0.0.1
    ['10.1.255.255', true],
    ['10.2.0.0', false],
    ['192.168.7.7', true],
    ['192.168.7.8', false],
    ['fd12::1', true],
    ['fc00::1', false],
    ['::1', true],
    ['::2', false],
    ['169.254.169.254', false],
  ])('admits the address %s: %s', (address, admitted) => {
    expect(allow.admitsAddress(address)).toBe(admitted);
  });

  it.each<[string, boolean]>([
    ['hooks.internal', true],
    ['HOOKS.INTERNAL', true],
    ['localhost', true],
    ['a.hooks.internal', false], // exact names only, no subdomains
    ['hooks.internal.', false],
    ['localhost.example.com', false],
  ])('admits the host %s: %s', (host, admitted) => {
    expect(allow.admitsHost(host)).toBe(admitted);
  });

  it('comes before the classes: an allowlisted address is allowed, whatever its class', () => {
    expect(checkAddress('127.0.0.1', allow)).toEqual({ allowed: true, by: 'allowlist' });
    expect(checkAddress('127.0.0.2', allow)).toEqual({ allowed: false, class: 'loopback' });
    expect(checkAddress('10.1.2.3', allow)).toEqual({ allowed: true, by: 'allowlist' });
    expect(checkAddress('10.2.3.4', allow)).toEqual({ allowed: false, class: 'private' });
    expect(checkAddress('8.8.8.8', allow)).toEqual({ allowed: true, by: 'public' });
    expect(checkAddress('169.254.169.254', CallbackAllowlist.none)).toEqual({
      allowed: false,
      class: 'link_local',
    });
  });

  it('admits nothing internal when empty', () => {
    expect(CallbackAllowlist.none.admitsAddress('127.0.0.1')).toBe(false);
    expect(CallbackAllowlist.none.admitsHost('localhost')).toBe(false);
  });

  it('accepts every kind of entry, bracketed IPv6 and /0 included', () => {
    const wide = CallbackAllowlist.parse(['0.0.0.0/0', '[::1]', '::/0', 'my_host-1.example']);
    expect(wide.admitsAddress('10.0.0.1')).toBe(true);
    expect(wide.admitsAddress('fe80::1')).toBe(true);
    expect(wide.admitsHost('my_host-1.example')).toBe(true);
  });

  it.each([
    ['10.0.0.0/33', /"10\.0\.0\.0\/33" is not a CIDR: an IPv4 prefix length is a whole number from 0 to 32/],
    ['fd00::/129', /from 0 to 128/],
    ['10.0.0.0/', /is not a CIDR/],
    ['10.0.0.0/x', /is not a CIDR/],
    ['10.0.0/8', /the part before \/ is not an IP address/],
    ['example.com/24', /the part before \/ is not an IP address/],
    ['300.1.1.1', /"300\.1\.1\.1" is the IP address|is not a host name a URL can have|is not a CIDR/],
    ['2130706433', /is the IP address 127\.0\.0\.1: write it so/],
    ['0x7f.1', /is the IP address 127\.0\.0\.1/],
    ['a.0x10', /is not a host name a URL can have/],
    ['http://hooks.example', /is not a CIDR/],
    ['hooks example', /is not a CIDR .*, an IP address .* or a host name/],
    ['hooks.example:8080', /or a host name/],
    ['*.example.com', /or a host name/],
    ['-bad.example', /or a host name/],
  ])('refuses the entry %s, naming CODEEXEC_CALLBACK_ALLOW', (entry, message) => {
    expect(() => CallbackAllowlist.parse([entry])).toThrow(/^CODEEXEC_CALLBACK_ALLOW: /);
    expect(() => CallbackAllowlist.parse([entry])).toThrow(message);
  });
});
