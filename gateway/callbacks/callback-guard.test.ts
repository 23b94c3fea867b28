// The callback guard with an injected resolver: what a submission is refused for, and the lookup
// a delivery connects with. Nothing here opens a socket.
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { CodeexecError } from '../../shared/index.js';
import { CallbackAllowlist } from './address-policy.js';
import { CallbackGuard, isCallbackForbidden, type ResolvedAddress, type Resolver } from './callback-guard.js';

/** A resolver from a table, which records every name it is asked. */
function fakeResolver(table: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

const TABLE = {
  'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'mixed.test': ['93.184.216.34', '10.0.0.7'],
  'metadata.test': ['169.254.169.254'],
  'loopback6.test': ['::1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'inside.test': ['10.1.2.3', '10.1.9.9'],
};

async function refusal(guard: CallbackGuard, url: string): Promise<CodeexecError> {
  const err = await guard.check(url).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CodeexecError);
  return err as CodeexecError;
}

describe('CallbackGuard.check (at submission)', () => {
  it.each([
    ['http://127.0.0.1:8080/hook', '127.0.0.1', 'loopback'],
    ['http://0x7f.1/', '127.0.0.1', 'loopback'],
    ['http://2130706433/', '127.0.0.1', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'loopback'],
    ['https://[::1]/', '::1', 'loopback'],
    ['http://0.0.0.0:80/', '0.0.0.0', 'unspecified'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', 'link_local'],
    ['http://10.0.0.1/', '10.0.0.1', 'private'],
    ['http://[fd00::1]/', 'fd00::1', 'private'],
    ['http://100.100.100.200/', '100.100.100.200', 'shared'],
    ['http://224.0.0.1/', '224.0.0.1', 'multicast'],
    ['http://255.255.255.255/', '255.255.255.255', 'reserved'],
    ['http://[64:ff9b::a9fe:a9fe]/', '64:ff9b::a9fe:a9fe', 'link_local'],
  ])('refuses the IP literal of %s without resolving anything', async (url, host, cls) => {
    const resolve = fakeResolver(TABLE);
    const err = await refusal(new CallbackGuard({ resolve }), url);
    expect(err.code).toBe('callback_forbidden');
    expect(err.status).toBe(400);
    expect(err.details).toEqual({ host, address: host, class: cls });
    expect(err.message).toContain(`callback_url's host ${host} is a`);
    expect(err.message).toMatch(/the operator may allow it with CODEEXEC_CALLBACK_ALLOW$/);
    expect(resolve.asked).toEqual([]);
  });

  it('names the forbidden address of a name and its class; a name that does not resolve is refused', async () => {
    const guard = new CallbackGuard({ resolve: fakeResolver(TABLE) });
    const err = await refusal(guard, 'http://localhost.test/');
    expect(err.message).toMatch(/does not resolve \(ENOTFOUND\)/);
    expect((await refusal(guard, 'http://metadata.test/')).message).toBe(
      "callback_url's host metadata.test resolves to 169.254.169.254, a link-local address (where cloud " +
        'metadata services answer); the operator may allow it with CODEEXEC_CALLBACK_ALLOW',
    );
  });

  it.each([
    ['mixed.test', '10.0.0.7', 'private'], // one public address does not make up for a private one
    ['loopback6.test', '::1', 'loopback'],
    ['mapped.test', '::ffff:127.0.0.1', 'loopback'],
  ])('refuses %s: any one forbidden address is enough', async (name, address, cls) => {
    const err = await refusal(new CallbackGuard({ resolve: fakeResolver(TABLE) }), `http://${name}/`);
    expect(err.details).toEqual({ host: name, address, class: cls });
  });

  it('accepts public literals and names that resolve only to public addresses', async () => {
    const resolve = fakeResolver(TABLE);
    const guard = new CallbackGuard({ resolve });
    await guard.check('https://93.184.216.34/hook');
    await guard.check('http://[2606:4700:4700::1111]:8443/');
    await guard.check('http://PUBLIC.test/x?y=1');
    expect(resolve.asked).toEqual(['public.test']);
  });

  it('admits by host name without resolving, and by address when every address is allowed', async () => {
    const resolve = fakeResolver(TABLE);
    const allow = CallbackAllowlist.parse(['metadata.test', '10.1.0.0/16', '127.0.0.1']);
    const guard = new CallbackGuard({ resolve, allow });
    await guard.check('http://Metadata.Test/');
    await guard.check('http://inside.test/');
    await guard.check('http://127.0.0.1:9/');
    await guard.check('http://[::ffff:127.0.0.1]/');
    expect(resolve.asked).toEqual(['inside.test']);
    expect((await refusal(guard, 'http://mixed.test/')).details).toMatchObject({ address: '10.0.0.7' });
    expect((await refusal(guard, 'http://127.0.0.2/')).details).toMatchObject({ class: 'loopback' });
  });

  it('refuses a host that does not resolve in time', async () => {
    const guard = new CallbackGuard({ resolve: () => new Promise(() => {}), resolveTimeoutMs: 20 });
    const err = await refusal(guard, 'http://slow.test/');
    expect(err.code).toBe('callback_forbidden');
    expect(err.message).toMatch(/slow\.test does not resolve \(no answer within 20 ms\)/);
  });

  // The system's resolver, on the one name every machine has (from /etc/hosts, not the network).
  it('refuses localhost with the system resolver', async () => {
    const err = await refusal(new CallbackGuard(), 'http://localhost:8080/hook');
    expect(err.details).toMatchObject({ host: 'localhost', class: 'loopback' });
  });
});

/** Calls a lookup the way net.connect does; resolves with what it called back. */
function callLookup(
  guard: CallbackGuard,
  url: string,
  options: { family?: number; all?: boolean },
): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }> {
  const lookup = guard.connectLookup(new URL(url));
  if (!lookup) throw new Error('no lookup');
  return new Promise((resolve) => {
    lookup(new URL(url).hostname, options, (err, address, family) => resolve({ err, address, family }));
  });
}

describe('CallbackGuard.connectLookup (at delivery)', () => {
  it('throws for a forbidden IP literal, and needs no lookup for an allowed one', () => {
    const guard = new CallbackGuard({ allow: CallbackAllowlist.parse(['10.9.9.9']) });
    expect(() => guard.connectLookup(new URL('http://169.254.169.254/'))).toThrow(/link-local/);
    expect(guard.connectLookup(new URL('http://10.9.9.9/'))).toBeUndefined();
    expect(guard.connectLookup(new URL('http://93.184.216.34/'))).toBeUndefined();
  });

  it('needs no lookup for a host the allowlist names', () => {
    const guard = new CallbackGuard({ allow: CallbackAllowlist.parse(['localhost']) });
    expect(guard.connectLookup(new URL('http://localhost:1/'))).toBeUndefined();
  });

  it('hands the socket every address (all: true) or the first of its family', async () => {
    const guard = new CallbackGuard({ resolve: fakeResolver(TABLE) });
    expect(await callLookup(guard, 'http://public.test/', { all: true })).toEqual({
      err: null,
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
      ],
      family: undefined,
    });
    expect(await callLookup(guard, 'http://public.test/', { family: 6 })).toEqual({
      err: null,
      address: '2606:2800:220:1:248:1893:25c8:1946',
      family: 6,
    });
    const none = await callLookup(
      new CallbackGuard({ resolve: fakeResolver({ 'v4.test': ['93.184.216.34'] }) }),
      'http://v4.test/',
      { family: 6 },
    );
    expect(none.err?.code).toBe('ENOTFOUND');
  });

  it('fails the lookup with callback_forbidden when any address is forbidden', async () => {
    const guard = new CallbackGuard({ resolve: fakeResolver(TABLE) });
    for (const name of ['mixed.test', 'metadata.test', 'mapped.test']) {
      const { err, address } = await callLookup(guard, `http://${name}/`, { all: true });
      expect(isCallbackForbidden(err)).toBe(true);
      expect(address).toBe('');
    }
  });

  it('passes a resolver failure on as it is (a later attempt may resolve)', async () => {
    const guard = new CallbackGuard({ resolve: fakeResolver({}) });
    const { err } = await callLookup(guard, 'http://gone.test/', { all: true });
    expect(err?.code).toBe('ENOTFOUND');
    expect(isCallbackForbidden(err)).toBe(false);
  });
});
