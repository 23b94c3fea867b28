// `codeexec gateway`: the gateway alone; runners dial in with one of CODEEXEC_RUNNER_TOKENS (the
// operator's, trusted) or CODEEXEC_DONOR_TOKENS (donors).
import { Gateway } from '../gateway/gateway.js';
import { type Env, envList, gatewayOptionsFromEnv } from '../gateway/gateway-config.js';
import type { Logger } from '../shared/index.js';
import { onSignals } from './signals.js';

export async function gatewayCommand(env: Env, log: Logger): Promise<void> {
  const tokens = envList(env, 'CODEEXEC_RUNNER_TOKENS');
  if (tokens.length === 0 && envList(env, 'CODEEXEC_DONOR_TOKENS').length === 0) {
    throw new Error(
      'set CODEEXEC_RUNNER_TOKENS (trusted runners) or CODEEXEC_DONOR_TOKENS (donors) to the tokens runners enroll with',
    );
  }
  const gateway = await Gateway.start({ ...gatewayOptionsFromEnv(env, tokens), log });
  onSignals(log, () => gateway.close());
}
