#!/usr/bin/env node
// The `codeexec` command: `gateway`, `runner`, and `dev` (a gateway and one local runner in one
// process: what `npm start` runs). Configuration comes from the environment (see README).
import { randomBytes } from 'node:crypto';
import { Gateway } from './gateway/gateway.js';
import { type Env, envInt, envList, gatewayOptionsFromEnv } from './gateway/gateway-config.js';
import { Runner } from './runner/runner.js';
import { consoleLogger } from './shared/index.js';

const env: Env = process.env;
const log = consoleLogger;

function startRunner(gatewayUrl: string, token: string): Promise<Runner> {
  const languages = envList(env, 'CODEEXEC_RUNNER_LANGUAGES');
  return Runner.start({
    gatewayUrl,
    token,
    name: env.CODEEXEC_RUNNER_NAME || undefined,
    slots: envInt(env, 'CODEEXEC_RUNNER_SLOTS', 1) ?? 2,
    labels: envList(env, 'CODEEXEC_RUNNER_LABELS'),
    minWarm: envInt(env, 'CODEEXEC_POOL_MIN') ?? 1,
    maxWarm: envInt(env, 'CODEEXEC_POOL_MAX', 1) ?? 2,
    minBackoffMs: envInt(env, 'CODEEXEC_RECONNECT_MIN_MS', 1),
    maxBackoffMs: envInt(env, 'CODEEXEC_RECONNECT_MAX_MS', 1),
    ...(languages.length > 0 ? { languages } : {}),
  });
}

/**
 * SIGTERM and SIGINT: the first runs `first`, the next runs `second` (if any), one more exits
 * at once. Each step exits 0 when it completes.
 */
function onSignals(first: () => Promise<void>, second?: () => Promise<void>): void {
  const steps = [first, ...(second ? [second] : [])];
  let received = 0;
  const handler = (signal: string) => {
    const step = steps[received++];
    if (!step) process.exit(1);
    log('info', `${signal}: ${received === 1 ? 'stopping' : 'stopping now'}`);
    step().then(
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
      const tokens = envList(env, 'CODEEXEC_RUNNER_TOKENS');
      if (tokens.length === 0)
        throw new Error('set CODEEXEC_RUNNER_TOKENS to the tokens runners may enroll with');
      const gateway = await Gateway.start(gatewayOptionsFromEnv(env, tokens));
      onSignals(() => gateway.close());
      return;
    }
    case 'runner': {
      const token = env.CODEEXEC_RUNNER_TOKEN;
      if (!token) throw new Error('set CODEEXEC_RUNNER_TOKEN to a token the gateway accepts');
      const runner = await startRunner(env.CODEEXEC_GATEWAY_URL || 'http://127.0.0.1:8080', token);
      runner.on('fatal', () => void runner.close().then(() => process.exit(1)));
      // First signal: drain (finish held jobs, take none); second: cancel them and stop now.
      onSignals(
        () => runner.drain(),
        () => runner.close(),
      );
      return;
    }
    case 'dev': {
      const token = envList(env, 'CODEEXEC_RUNNER_TOKENS')[0] ?? randomBytes(18).toString('base64url');
      const gateway = await Gateway.start(gatewayOptionsFromEnv(env, [token]));
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
