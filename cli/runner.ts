// `codeexec runner`: one runner daemon dialling out to CODEEXEC_GATEWAY_URL. A thin main over
// the runner library: options from the environment, signals to drain and stop.
import { type Env, envInt, envList } from '../gateway/gateway-config.js';
import { Runner } from '../runner/runner.js';
import type { Logger } from '../shared/index.js';
import { onSignals } from './signals.js';

/** The runner library's options from the environment (README: Configuration). */
export function startRunner(env: Env, gatewayUrl: string, token: string): Promise<Runner> {
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

export async function runnerCommand(env: Env, log: Logger): Promise<void> {
  const token = env.CODEEXEC_RUNNER_TOKEN;
  if (!token) throw new Error('set CODEEXEC_RUNNER_TOKEN to a token the gateway accepts');
  const runner = await startRunner(env, env.CODEEXEC_GATEWAY_URL || 'http://127.0.0.1:8080', token);
  runner.on('fatal', () => void runner.close().then(() => process.exit(1)));
  // First signal: drain (finish held jobs, take none); second: cancel them and stop now.
  onSignals(
    log,
    () => runner.drain(),
    () => runner.close(),
  );
}
