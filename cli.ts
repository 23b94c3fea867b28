#!/usr/bin/env node
// The `codeexec` command: `gateway`, `runner`, and `dev` (a gateway and one local runner in one
// process: what `npm start` runs). Configuration comes from the environment (see README).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Gateway } from './gateway/gateway.js';
import { Runner } from './runner/runner.js';
import { consoleLogger } from './shared/index.js';

const env = process.env;
const log = consoleLogger;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function int(name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return value;
}

function transportOf(value: string | undefined): 'uws' | 'ws' {
  if (value === undefined || value === '' || value === 'uws') return 'uws';
  if (value === 'ws') return 'ws';
  throw new Error(`CODEEXEC_TRANSPORT must be uws or ws, got "${value}"`);
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

async function startGateway(runnerTokens: string[]): Promise<Gateway> {
  const host = env.HOST ?? '127.0.0.1';
  if (!LOOPBACK.test(host) && env.CODEEXEC_ALLOW_PUBLIC !== '1') {
    // Client API keys are not enforced yet: an open gateway must stay on loopback.
    throw new Error(
      `refusing to listen on ${host}: without client API keys the gateway listens only on loopback ` +
        '(set CODEEXEC_ALLOW_PUBLIC=1 if this is on purpose)',
    );
  }
  return Gateway.start({
    host,
    port: int('PORT', 8080),
    dataDir: resolve(env.CODEEXEC_DATA_DIR ?? 'data'),
    runnerTokens,
    queueTimeoutMs: int('CODEEXEC_QUEUE_TIMEOUT_MS', 30_000),
    transport: transportOf(env.CODEEXEC_TRANSPORT),
  });
}

function startRunner(gatewayUrl: string, token: string): Promise<Runner> {
  return Runner.start({
    gatewayUrl,
    token,
    name: env.CODEEXEC_RUNNER_NAME || undefined,
    slots: int('CODEEXEC_RUNNER_SLOTS', 2),
    minWarm: int('CODEEXEC_POOL_MIN', 1),
    maxWarm: int('CODEEXEC_POOL_MAX', 2),
  });
}

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log('info', `${signal}: stopping`);
    stop().then(
      () => process.exit(0),
      (err) => {
        log('error', 'stopping failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'gateway': {
      const tokens = list(env.CODEEXEC_RUNNER_TOKENS);
      if (tokens.length === 0)
        throw new Error('set CODEEXEC_RUNNER_TOKENS to the tokens runners may enroll with');
      const gateway = await startGateway(tokens);
      onSignals(() => gateway.close());
      return;
    }
    case 'runner': {
      const token = env.CODEEXEC_RUNNER_TOKEN;
      if (!token) throw new Error('set CODEEXEC_RUNNER_TOKEN to a token the gateway accepts');
      const runner = await startRunner(env.CODEEXEC_GATEWAY_URL ?? 'http://127.0.0.1:8080', token);
      runner.on('fatal', () => void runner.close().then(() => process.exit(1)));
      onSignals(() => runner.close());
      return;
    }
    case 'dev': {
      const token = list(env.CODEEXEC_RUNNER_TOKENS)[0] ?? randomBytes(18).toString('base64url');
      const gateway = await startGateway([token]);
      const runner = await startRunner(gateway.url, token);
      onSignals(async () => {
        await runner.close();
        await gateway.close();
      });
      await runner.connected();
      const example =
        `curl -s -XPOST ${gateway.url}/execute/code -H 'content-type: application/json' ` +
        `-d '{"lang":"python","code":"print(6*7)"}'`;
      process.stdout.write(`\ncodeexec is ready at ${gateway.url}\ntry:\n  ${example}\n\n`);
      return;
    }
    default:
      process.stderr.write('usage: codeexec <gateway|runner|dev>\n');
      process.exit(command ? 2 : 0);
  }
}

main(process.argv[2]).catch((err: unknown) => {
  log('error', (err as Error).message);
  process.exit(1);
});
