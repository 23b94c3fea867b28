import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { Gateway, isLoopback, listenPolicy } from './gateway.js';
import { gatewayOptionsFromEnv } from './gateway-config.js';

describe('gatewayOptionsFromEnv', () => {
  it('reads every variable into its option', () => {
    const options = gatewayOptionsFromEnv(
      {
        HOST: '127.0.0.2',
        PORT: '9000',
        CODEEXEC_API_KEYS: ' k1, k2 ,,',
        CODEEXEC_ALLOW_PUBLIC: '1',
        CODEEXEC_MAX_BODY_BYTES: '2048',
        CODEEXEC_MAX_JOBS_PER_KEY: '3',
        CODEEXEC_MAX_QUEUE: '4',
        CODEEXEC_RATE_LIMIT: '30',
        CODEEXEC_RATE_BURST: '5',
        CODEEXEC_RATE_LIMIT_ADDRESS: '900',
        CODEEXEC_OUTPUT_RETAIN_BYTES: '65536',
        CODEEXEC_GOAWAY_RECONNECT_MS: '750',
        CODEEXEC_STORE: 'postgres://codeexec@db.internal:5432/codeexec',
        CODEEXEC_BUS: 'nats://bus-a:4222,nats://bus-b:4222',
        CODEEXEC_GATEWAY_ID: ' gw-east.1 ',
        CODEEXEC_GATEWAY_TTL_MS: '3000',
        CODEEXEC_HEARTBEAT_MS: '100',
        CODEEXEC_LEASE_MS: '300',
        CODEEXEC_PING_MS: '15000',
        CODEEXEC_MAX_ATTEMPTS: '2',
        CODEEXEC_RETAIN_JOBS: '50',
        CODEEXEC_RETAIN_HOURS: '2',
        CODEEXEC_STORE_OUTPUT_BYTES: '4096',
        CODEEXEC_CALLBACK_ATTEMPTS: '5',
        CODEEXEC_CALLBACK_SECRET: 's3cret',
        CODEEXEC_CALLBACK_ALLOW: ' 127.0.0.1/32, fd00::/8,hooks.internal ,,',
        CODEEXEC_TRANSPORT: 'ws',
        CODEEXEC_DURABLE_BEFORE_OFFER: '0',
      },
      ['tok'],
    );
    expect(options).toMatchObject({
      host: '127.0.0.2',
      port: 9000,
      apiKeys: ['k1', 'k2'],
      allowPublicWithoutKeys: true,
      maxBodyBytes: 2048,
      maxJobsPerClient: 3,
      maxQueue: 4,
      rateLimit: { perMinute: 30, burst: 5, requestsPerMinute: 900 },
      outputLog: { maxBytes: 65_536, maxJobBytes: 65_536 },
      goawayReconnectMs: 750,
      store: 'postgres://codeexec@db.internal:5432/codeexec',
      bus: 'nats://bus-a:4222,nats://bus-b:4222',
      gatewayId: 'gw-east.1',
      fleetTtlMs: 3_000,
      heartbeatMs: 100,
      leaseMs: 300,
      pingMs: 15_000,
      maxAttempts: 2,
      retainJobs: 50,
      retainMs: 2 * 3600_000,
      storeOutputBytes: 4096,
      callbacks: { attempts: 5, secret: 's3cret', allow: ['127.0.0.1/32', 'fd00::/8', 'hooks.internal'] },
      transport: 'ws',
      durableBeforeOffer: false,
      runnerTokens: ['tok'],
    });
  });

  it('leaves unset variables to the library defaults', () => {
    const options = gatewayOptionsFromEnv({}, ['tok']);
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      apiKeys: [],
      allowPublicWithoutKeys: false,
    });
    expect(options.callbacks?.allow).toEqual([]); // no internal address is called back
    expect(options).not.toHaveProperty('maxQueue');
    expect(options).not.toHaveProperty('leaseMs');
    expect(options.rateLimit).toEqual({ perMinute: 600 }); // burst: a minute's worth
    expect(gatewayOptionsFromEnv({ CODEEXEC_RATE_LIMIT: '0' }, ['tok']).rateLimit).toEqual({ perMinute: 0 });
    expect(options).not.toHaveProperty('pingMs'); // GATEWAY_DEFAULTS.pingMs, 25 s
  });

  it.each([
    ['PORT', '-1', /PORT must be a whole number/],
    ['CODEEXEC_MAX_QUEUE', 'lots', /CODEEXEC_MAX_QUEUE must be a whole number/],
    ['CODEEXEC_HEARTBEAT_MS', '0', /CODEEXEC_HEARTBEAT_MS must be a whole number ≥ 10/],
    ['CODEEXEC_PING_MS', '50', /CODEEXEC_PING_MS must be a whole number ≥ 100/],
    ['CODEEXEC_PING_MS', '25s', /CODEEXEC_PING_MS must be a whole number/],
    ['CODEEXEC_RATE_LIMIT', '-5', /CODEEXEC_RATE_LIMIT must be a whole number ≥ 0/],
    ['CODEEXEC_RATE_LIMIT', '10/s', /CODEEXEC_RATE_LIMIT must be a whole number/],
    ['CODEEXEC_RATE_BURST', '0', /CODEEXEC_RATE_BURST must be a whole number ≥ 1/],
    ['CODEEXEC_STORE', 'mysql://db/x', /CODEEXEC_STORE must be empty .* or a postgres:\/\/ URL/],
    ['CODEEXEC_BUS', 'redis://bus:6379', /CODEEXEC_BUS must be unset/],
    ['CODEEXEC_GATEWAY_ID', 'gw 1', /CODEEXEC_GATEWAY_ID must be 1 to 64 letters/],
    ['CODEEXEC_GATEWAY_TTL_MS', '100', /CODEEXEC_GATEWAY_TTL_MS must be a whole number ≥ 300/],
    ['CODEEXEC_ALLOW_PUBLIC', 'maybe', /CODEEXEC_ALLOW_PUBLIC must be 1 or 0/],
    ['CODEEXEC_TRANSPORT', 'tcp', /uws or ws/],
    [
      'CODEEXEC_CALLBACK_ALLOW',
      '10.0.0.0/8,10.0.0.0/40',
      /CODEEXEC_CALLBACK_ALLOW: "10\.0\.0\.0\/40" is not a CIDR/,
    ],
    ['CODEEXEC_CALLBACK_ALLOW', 'https://hooks', /CODEEXEC_CALLBACK_ALLOW: "https:\/\/hooks"/],
  ])('refuses %s=%s by name', (name, value, message) => {
    expect(() => gatewayOptionsFromEnv({ [name]: value }, ['tok'])).toThrow(message);
  });
});

describe('listening address', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.1.2.3', false],
    ['127.0.0.1.example.com', false],
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it.each([
    ['127.0.0.1', false, false, 'listen'],
    ['0.0.0.0', true, false, 'listen'],
    ['0.0.0.0', false, false, 'refuse'],
    ['0.0.0.0', false, true, 'warn'],
    ['::', true, true, 'listen'],
  ] as const)('on %s with keys: %s, CODEEXEC_ALLOW_PUBLIC: %s → %s', (host, keys, allow, policy) => {
    expect(listenPolicy(host, keys, allow)).toBe(policy);
  });

  // Refused before anything listens, so this opens no public port.
  it('refuses a public address without API keys, unless told it is on purpose', async () => {
    await expect(
      Gateway.start({ host: '0.0.0.0', port: 0, dataDir: await tempDir(), runnerTokens: ['t'] }),
    ).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without client API keys.*CODEEXEC_API_KEYS/);
  });

  it('refuses a bad callback allowlist before opening anything', async () => {
    const dataDir = await tempDir();
    await expect(
      Gateway.start({ port: 0, dataDir, runnerTokens: ['t'], callbacks: { allow: ['10.0.0.0/99'] } }),
    ).rejects.toThrow(/^CODEEXEC_CALLBACK_ALLOW: "10\.0\.0\.0\/99" is not a CIDR/);
    expect(await readdir(dataDir)).toEqual([]); // no store was opened
  });
});
