#!/usr/bin/env node
// The `codeexec` command: one file per subcommand beside this one. Configuration comes from the
// environment (see README: Configuration).
import { createLogger, type Logger, logOptionsFromEnv } from '../shared/index.js';
import { devCommand } from './dev.js';
import { donorCommand } from './donor.js';
import { gatewayCommand } from './gateway.js';
import { jobsCommand } from './jobs.js';
import { migrateCommand } from './migrate.js';
import { runCommand } from './run.js';
import { runnerCommand } from './runner.js';
import { runnersCommand } from './runners.js';

const COMMANDS = {
  gateway: gatewayCommand,
  runner: runnerCommand,
  dev: devCommand,
  donor: donorCommand,
  run: runCommand,
  jobs: jobsCommand,
  runners: runnersCommand,
  migrate: migrateCommand,
} as const;

const USAGE = `usage: codeexec <command>

  gateway   the gateway alone (CODEEXEC_RUNNER_TOKENS, PORT, HOST, ...)
  runner    a runner dialling out to CODEEXEC_GATEWAY_URL with CODEEXEC_RUNNER_TOKEN
            (several gateways, comma-separated: it moves to the next when one fails or leaves)
            (--metrics-port N: Prometheus metrics at http://127.0.0.1:N/metrics)
  dev       a gateway and one local runner in one process (npm start)
  donor     donate this computer's spare CPU to a gateway (CODEEXEC_DONOR_TOKEN); \`donor --help\`
  run       run a program on a gateway, its output streamed here (\`run FILE\`; \`run --help\`)
  jobs      the latest jobs on a gateway (\`jobs --help\`)
  runners   the runners connected to a gateway (CODEEXEC_ADMIN_KEY; \`runners --help\`)
  migrate   copy a stopped gateway's job files into PostgreSQL (\`migrate --help\`)
`;

const name = process.argv[2];
const command =
  name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name as keyof typeof COMMANDS] : null;
if (command === null) {
  process.stderr.write(USAGE);
  process.exit(name === undefined || name === 'help' || name === '--help' ? 0 : 2);
} else {
  let log: Logger;
  try {
    log = createLogger(logOptionsFromEnv(process.env, process.stdout.isTTY === true));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  command(process.env, log).catch((err: unknown) => {
    log.error({ err }, (err as Error).message);
    process.exit(1);
  });
}
