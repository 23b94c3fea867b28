// `codeexec dev` (what `npm start` runs): a gateway and one local runner in one process.
import { randomBytes } from 'node:crypto';
import { Gateway } from '../gateway/gateway.js';
import { type Env, envList, gatewayOptionsFromEnv } from '../gateway/gateway-config.js';
import type { Logger } from '../shared/index.js';
import { startRunner } from './runner.js';
import { onSignals } from './signals.js';

export async function devCommand(env: Env, log: Logger): Promise<void> {
  const token = envList(env, 'CODEEXEC_RUNNER_TOKENS')[0] ?? randomBytes(18).toString('base64url');
  const gateway = await Gateway.start(gatewayOptionsFromEnv(env, [token]));
  const runner = await startRunner(env, gateway.url, token);
  onSignals(log, async () => {
    await runner.close();
    await gateway.close();
  });
  await runner.connected();
  const example =
    `curl -s -XPOST ${gateway.url}/execute/code -H 'content-type: application/json' ` +
    `-d '{"lang":"python","code":"print(6*7)"}'`;
  process.stdout.write(`\ncodeexec is ready at ${gateway.url}\ntry:\n  ${example}\n\n`);
}
