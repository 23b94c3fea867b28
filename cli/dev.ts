// `codeexec dev` (what `npm start` runs): a gateway and one local runner in one process. The runner
// starts with the sandbox images that exist (setup.sh builds python, javascript and go first) and
// the others are built in the background, one at a time, each offered once its image is there.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../gateway/gateway.js';
import { type Env, envList, gatewayOptionsFromEnv } from '../gateway/gateway-config.js';
import type { Runner } from '../runner/runner.js';
import type { Logger } from '../shared/index.js';
import { createRunnerFromEnv, runnerArgs, runnerOptionsFromEnv } from './runner.js';
import { onSignals } from './signals.js';

export async function devCommand(env: Env, log: Logger, argv = process.argv.slice(3)): Promise<void> {
  // The runner's options (its metrics port); the gateway's own /metrics is on its port.
  const args = runnerArgs(argv);
  const token = envList(env, 'CODEEXEC_RUNNER_TOKENS')[0] ?? randomBytes(18).toString('base64url');
  const gateway = await Gateway.start({ ...gatewayOptionsFromEnv(env, [token]), log });
  const runner = await createRunnerFromEnv(
    { ...runnerOptionsFromEnv(env, gateway.url, token, log), ...args },
    env,
  );
  const builds = new ImageBuilds(runner, log);
  onSignals(log, async () => {
    builds.stop();
    await runner.close();
    await gateway.close();
  });
  await runner.start();
  // Before the hello goes out (the socket opens on a later turn), so it says they are building.
  runner.markBuilding(runner.missingImages);
  void builds.run(runner.missingImages);
  await runner.connected();
  const example =
    `curl -s -XPOST ${gateway.url}/execute/code -H 'content-type: application/json' ` +
    `-d '{"lang":"python","code":"print(6*7)"}'`;
  process.stdout.write(
    `\ncodeexec is ready at ${gateway.url}\n` +
      `  playground:  ${gateway.url}/\n` +
      `  dashboard:   ${gateway.url}/admin\n` +
      `  metrics:     ${gateway.url}/metrics\n` +
      `try:\n  ${example}\n  echo 'print(6*7)' | npx codeexec run - --lang python\n\n`,
  );
}

/** The sandbox image builder the repository ships (idempotent, one language per call). */
const BUILD_SCRIPT = fileURLToPath(new URL('../images/build.sh', import.meta.url));

/** Lines of a failed build's output kept to say why it failed. */
const TAIL_LINES = 30;

/**
 * Builds missing sandbox images with images/build.sh, one at a time (a build takes a core or two
 * for minutes), and tells the runner how each went. build.sh's own lines (building, built, FAILED)
 * are logged at info, docker's build steps at debug; the rest (package managers) only when the
 * build failed, its last lines at warn.
 */
class ImageBuilds {
  readonly #runner: Runner;
  readonly #log: Logger;
  #child: ChildProcess | null = null;
  #stopped = false;
  #tail: string[] = [];

  constructor(runner: Runner, log: Logger) {
    this.#runner = runner;
    this.#log = log;
  }

  async run(languages: readonly string[]): Promise<void> {
    if (languages.length > 0) this.#log.info({ languages }, 'building missing sandbox images');
    for (const language of languages) {
      if (this.#stopped) return;
      const code = await this.#build(language);
      if (this.#stopped) return;
      if (code !== 0) {
        this.#log.warn({ language, code, last_lines: this.#tail }, 'image build failed');
        this.#runner.languageFailed(language, `bash images/build.sh ${language} ended with ${code}`);
        continue;
      }
      // The runner logs how adding it went; a language whose image does not run is not offered.
      await this.#runner.addLanguage(language).catch(() => {});
    }
  }

  /** Kills the build under way (the runner is stopping). */
  stop(): void {
    this.#stopped = true;
    this.#child?.kill('SIGTERM');
  }

  #build(language: string): Promise<number | null> {
    return new Promise((resolve) => {
      const child = spawn('bash', [BUILD_SCRIPT, language], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.#child = child;
      this.#tail = [];
      let partial = '';
      const onData = (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.#line(language, line);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('error', (err) => {
        this.#log.warn({ language, err }, 'could not run images/build.sh');
      });
      child.on('close', (code) => {
        this.#child = null;
        if (partial !== '') this.#line(language, partial);
        resolve(code);
      });
    });
  }

  #line(language: string, line: string): void {
    const text = line.replace(/^\[images\] /, '').trimEnd();
    if (text === '') return;
    const docker = /^[a-z0-9]+:(?: (.*))?$/.exec(text);
    if (docker === null) {
      this.#log.info({ language, line: text }, 'image build');
      return;
    }
    const step = docker[1] ?? '';
    // Classic builder "Step 3/6 : RUN …", BuildKit "#5 [2/4] RUN …".
    if (/^Step \d+\/\d+ :|^#\d+ \[/.test(step)) this.#log.debug({ language, line: step }, 'image build');
    this.#tail.push(step);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
  }
}
