// A private PostgreSQL server: initdb into a temporary directory, started on a free loopback port
// (never Debian's own service on 5432), one new database per caller. No test framework here: the
// caller stops it with destroy() (test/postgres-server.ts registers that as a test teardown;
// bench/gateways.ts calls it, or destroySync() from its exit handler). Talks to the server
// through PostgreSQL's own client programs (createdb, psql): the `pg` library is imported by the
// store's folder only.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';

const run = promisify(execFile);

export interface PostgresServer {
  readonly port: number;
  /** A new, empty database; its postgres:// URL. */
  createDatabase(): Promise<string>;
  /** Runs SQL on the database of `url` with psql; the rows, one a line, fields split by `|`. */
  psql(url: string, sql: string): Promise<string>;
  /** Stops the server (fast: connections are cut). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data, once it accepts connections. */
  start(): Promise<void>;
}

export interface PostgresProcess extends PostgresServer {
  /** The server's version, e.g. "15.14". */
  readonly version: string;
  /** The postmaster's pid while it runs (its backends are its children). */
  pid(): number | undefined;
  /** Stops it if it runs and removes its directory. */
  destroy(): Promise<void>;
  /** The same, synchronously (an immediate shutdown): for a process 'exit' handler. */
  destroySync(): void;
}

export interface PostgresOptions {
  /**
   * false (default): fsync and full-page writes off, for servers that hold test data only (a
   * durable write is then one the server committed). true: PostgreSQL's defaults, every commit
   * flushed to disk, as a real deployment runs (for benchmarks).
   */
  fsync?: boolean;
}

/** The newest PostgreSQL's programs in Debian's layout, or an error saying how to get them. */
async function binaries(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? await readdir(root) : [];
  const bin = versions
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(root, version, 'bin'))
    .find((dir) => existsSync(join(dir, 'initdb')));
  if (bin === undefined) {
    throw new Error(
      `PostgreSQL is not installed (no ${root}/*/bin/initdb): run \`bash scripts/setup.sh\` ` +
        '(as root; it installs Debian’s postgresql package) or `apt-get install postgresql`.',
    );
  }
  return bin;
}

/** Starts a private server; the caller must destroy() it (its directory is removed then). */
export async function launchPostgres(options: PostgresOptions = {}): Promise<PostgresProcess> {
  const bin = await binaries();
  // PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user, on a
  // directory that user owns.
  const asRoot = process.getuid?.() === 0;
  const serverArgs = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args];
  const server = (program: string, args: string[]) => run(...serverArgs(program, args), { timeout: 90_000 });
  const client = (program: string, args: string[]) => run(join(bin, program), args, { timeout: 30_000 });

  const dir = await mkdtemp(join(tmpdir(), 'codeexec-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  let running = false;
  let port = 0;
  let destroyed = false;

  const destroy = async () => {
    destroyed = true;
    if (running) await server('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']).catch(() => {});
    running = false;
    await rm(dir, { recursive: true, force: true });
  };
  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    if (running) {
      try {
        execFileSync(...serverArgs('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']), {
          stdio: 'ignore',
          timeout: 30_000,
        });
      } catch {
        // already gone
      }
      running = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const start = async () => {
    // Loopback only; the Unix socket in our directory, not /var/run/postgresql.
    const durability = options.fsync ? '' : ' -c fsync=off -c full_page_writes=off';
    const settings = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}${durability}`;
    try {
      // -w: pg_ctl returns once the server accepts connections.
      await server('pg_ctl', ['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', settings]);
    } catch (err) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`PostgreSQL did not start on port ${port}: ${(err as Error).message}\n${log}`);
    }
    running = true;
  };

  try {
    if (asRoot) {
      const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
      await chown(dir, await id('-u'), await id('-g'));
    }
    const initdb = ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'];
    await server('initdb', initdb);
    // Another process may take the free port before the server binds it: try another.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (err) {
        if (attempt === 3) throw err;
      }
    }
  } catch (err) {
    await destroy();
    throw err;
  }

  const version = (await client('postgres', ['--version']).catch(() => ({ stdout: '' }))).stdout
    .trim()
    .replace(/^.*\) /, '');
  const connection = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  return {
    port,
    version,
    async createDatabase() {
      const name = `t_${randomBytes(6).toString('hex')}`;
      await client('createdb', [...connection, name]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async psql(url, sql) {
      const { stdout } = await client('psql', [url, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
      return stdout.trim();
    },
    async stop() {
      await server('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']);
      running = false;
    },
    start,
    pid() {
      if (!running) return undefined;
      try {
        return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        return undefined;
      }
    },
    destroy,
    destroySync,
  };
}
