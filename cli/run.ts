// `codeexec run FILE`: run one program on a gateway over the client socket (/execute/ws), its
// output streamed to this terminal as the program writes it, and exit with the program's exit code.
// The pure parts (arguments, the extension map, the exit-code table) are plain functions; the
// helpers the other client commands share (gateway URL, key, UsageError) live here too.
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Env } from '../gateway/gateway-config.js';
import type { ClientToGateway, GatewayToClient } from '../shared/client-protocol.js';
import type { Logger } from '../shared/index.js';
import { ERRORS, isErrorCode } from '../shared/index.js';
import { DEFAULT_PING_MS, keepAlive } from '../shared/keepalive.js';
import type { ExecuteResponse } from '../shared/rest.js';

export const RUN_USAGE = `usage: codeexec run FILE [--lang L] [--stdin FILE|-] [--arg A]... [--timeout-ms MS]
                    [--gateway URL] [--key K] [--json]

  Runs FILE on the gateway at URL (or CODEEXEC_GATEWAY_URL, else http://127.0.0.1:8080) and
  streams its stdout and stderr here as the program writes them. The API key comes from
  CODEEXEC_API_KEY (or --key K), sent as Authorization: Bearer. While it waits it pings the
  gateway every CODEEXEC_PING_MS (25000) ms. When the connection is lost (closed, cut, a ping
  unanswered, the gateway going away) it reconnects and resumes the job where its output
  stopped, for up to 60 s; an interactive job (stdin passed on live) ends with its connection.

  FILE         the program; - reads it from stdin (then --lang is required)
  --lang L     its language (default: from FILE's extension: .py .js .ts .go .c .cpp/.cc .rs
               .java .rb .sh)
  --stdin F    the program's whole stdin, from the file F (- for this command's stdin). Without
               it, this command's stdin is passed on to the program as it comes (an
               interactive job); with FILE -, the program gets no stdin.
  --arg A      an argument for the program (repeat for more)
  --timeout-ms MS  the program's wall-time limit (limits.wall_time_ms)
  --json       print the final result as JSON on stdout instead of streaming the output

  Exit codes:
    0-255    the program's own exit code
    1        the compile stage failed (the compiler's output is on stderr), or the output limit
    124      the wall-time or CPU-time limit was reached (as timeout(1) does)
    137      the memory limit was reached
    128+n    the program was killed by signal n
    130      the job was cancelled (Ctrl-C cancels it; a second Ctrl-C leaves at once)
    2        bad arguments, or the gateway refused the request (unknown language, bad limit, ...)
    3        gateway or connection error (unreachable, unauthorized, no_runner, job failed,
             the connection lost and not resumed within 60 s)
`;

/** A command line that cannot be right: the message, then the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The exit code for a failure of the gateway or the connection. */
export const EXIT_GATEWAY = 3;
export const EXIT_USAGE = 2;

/** File extensions and the language they are written in. */
export const EXTENSION_LANGUAGES: Readonly<Record<string, string>> = {
  '.py': 'python',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.ts': 'typescript',
  '.go': 'go',
  '.c': 'c',
  '.cpp': 'cpp',
  '.cc': 'cpp',
  '.cxx': 'cpp',
  '.rs': 'rust',
  '.java': 'java',
  '.rb': 'ruby',
  '.sh': 'bash',
};

/** The language of a file from its extension, or a UsageError saying to give --lang. */
export function languageOf(file: string): string {
  const ext = extname(file).toLowerCase();
  const lang = Object.hasOwn(EXTENSION_LANGUAGES, ext) ? EXTENSION_LANGUAGES[ext] : undefined;
  if (lang === undefined) {
    const known = Object.keys(EXTENSION_LANGUAGES).join(' ');
    throw new UsageError(
      ext === ''
        ? `cannot tell the language of "${file}" (no extension): give --lang L`
        : `cannot tell the language of "${file}" (unknown extension ${ext}; known: ${known}): give --lang L`,
    );
  }
  return lang;
}

export interface RunArgs {
  kind: 'run';
  /** The program's file, or '-' for stdin. */
  file: string;
  lang: string;
  /** Where the whole stdin comes from; null: none (FILE -) or this command's stdin, live. */
  stdin: { from: 'file'; path: string } | { from: 'stdin' } | { from: 'live' } | null;
  args: string[];
  timeoutMs: number | null;
  gateway: string;
  key: string | null;
  json: boolean;
  /** The keepalive's ping interval (CODEEXEC_PING_MS). */
  pingMs: number;
}

const RUN_OPTIONS = {
  lang: { type: 'string' },
  stdin: { type: 'string' },
  arg: { type: 'string', multiple: true },
  'timeout-ms': { type: 'string' },
  gateway: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The command line after `run`, or a UsageError saying what is wrong with it. */
export function parseRunArgs(argv: readonly string[], env: Env): RunArgs | { kind: 'help' } {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof RUN_OPTIONS; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: [...argv], options: RUN_OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals.length === 0) throw new UsageError('give the program: codeexec run FILE (or - for stdin)');
  if (positionals.length > 1) {
    throw new UsageError(
      `one FILE only, got ${positionals.length} (${positionals.join(' ')}); arguments for the program go in --arg A`,
    );
  }
  const file = positionals[0]!;
  if (file === '-' && values.lang === undefined) {
    throw new UsageError('with FILE - (the program from stdin), give its language: --lang L');
  }
  if (file === '-' && values.stdin === '-') {
    throw new UsageError("--stdin - and FILE - cannot both read this command's stdin");
  }
  if (values.lang !== undefined && values.lang.trim() === '') throw new UsageError('--lang is empty');
  const lang = values.lang ?? languageOf(file);
  const stdin: RunArgs['stdin'] =
    values.stdin === undefined
      ? file === '-'
        ? null
        : { from: 'live' }
      : values.stdin === '-'
        ? { from: 'stdin' }
        : { from: 'file', path: values.stdin };
  let timeoutMs: number | null = null;
  const rawTimeout = values['timeout-ms'];
  if (rawTimeout !== undefined) {
    timeoutMs = Number(rawTimeout);
    if (!/^\d+$/.test(rawTimeout) || timeoutMs < 1) {
      throw new UsageError(`--timeout-ms must be a whole number of milliseconds, got "${rawTimeout}"`);
    }
  }
  return {
    kind: 'run',
    file,
    lang,
    stdin,
    args: values.arg ?? [],
    timeoutMs,
    gateway: gatewayUrl(values.gateway, env),
    key: values.key ?? (env.CODEEXEC_API_KEY?.trim() || null),
    json: values.json === true,
    pingMs: pingInterval(env),
  };
}

/** CODEEXEC_PING_MS (whole milliseconds ≥ 100), else DEFAULT_PING_MS. */
export function pingInterval(env: Env): number {
  const raw = env.CODEEXEC_PING_MS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_PING_MS;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 100) {
    throw new UsageError(`CODEEXEC_PING_MS must be a whole number of milliseconds ≥ 100, got "${raw}"`);
  }
  return value;
}

/** --gateway, else CODEEXEC_GATEWAY_URL, else the local default; checked to be http(s). */
export function gatewayUrl(fromArgs: string | undefined, env: Env): string {
  const gateway = fromArgs ?? (env.CODEEXEC_GATEWAY_URL?.trim() || 'http://127.0.0.1:8080');
  let url: URL;
  try {
    url = new URL(gateway);
  } catch {
    throw new UsageError(`--gateway must be an http(s)://host:port URL, got "${gateway}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--gateway must be an http(s)://host:port URL, got "${gateway}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** The client socket's URL on a gateway at `gateway` (http→ws, https→wss). */
export function socketUrl(gateway: string): string {
  const url = new URL(gateway);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/execute/ws`;
  return url.href;
}

/** What the command does once the job has ended: the exit code, and a message for stderr. */
export interface Outcome {
  code: number;
  message: string | null;
}

/** The exit code of a finished job's result (see RUN_USAGE's table). */
export function exitCodeOf(result: ExecuteResponse): Outcome {
  if (result.status === 'failed') {
    const code = result.error?.code ?? 'failed';
    return { code: EXIT_GATEWAY, message: `${code}: ${result.error?.message ?? 'the job failed'}` };
  }
  if (result.status === 'cancelled' || result.reason === 'cancelled') {
    return { code: 130, message: 'cancelled: the job was cancelled' };
  }
  switch (result.reason) {
    case 'wall_time':
    case 'cpu_time':
      return {
        code: 124,
        message: `${result.reason}: the ${result.reason.replace('_', '-')} limit was reached`,
      };
    case 'memory':
      return { code: 137, message: 'memory: the memory limit was reached' };
    case 'compile_failed':
      return { code: 1, message: null };
    case 'output_limit':
      return { code: 1, message: 'output_limit: the program wrote more than its output limit' };
    case 'signal': {
      const number = signalNumber(result.signal);
      return {
        code: number === null ? 1 : 128 + number,
        message: `killed by ${result.signal ?? 'a signal'}`,
      };
    }
    default:
      break;
  }
  if (result.exit_code !== null) return { code: result.exit_code & 0xff, message: null };
  const number = signalNumber(result.signal);
  return number === null ? { code: 1, message: null } : { code: 128 + number, message: null };
}

/** SIGKILL → 9; a number as text → itself; null for anything else. */
export function signalNumber(signal: string | null): number | null {
  if (signal === null) return null;
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  const number = (constants.signals as Record<string, number | undefined>)[name];
  return number ?? null;
}

/** The exit code for a gateway error code: 2 for a refused request, 3 for everything else. */
export function exitCodeOfError(code: string): number {
  if (code === 'unauthorized') return EXIT_GATEWAY;
  return isErrorCode(code) && ERRORS[code].status === 400 ? EXIT_USAGE : EXIT_GATEWAY;
}

/** The compile stage's output, for stderr, when it failed. */
export function compileOutput(result: ExecuteResponse): string {
  const compile = result.compile;
  if (compile === null) return '';
  return `${compile.stdout}${compile.stderr}`;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner on a terminal's stderr while the job waits; nothing when stderr is not a TTY. */
class Spinner {
  #timer: NodeJS.Timeout | null = null;
  #frame = 0;
  #label = 'queued';
  readonly #out: NodeJS.WriteStream;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
    if (!out.isTTY) return;
    this.#draw();
    this.#timer = setInterval(() => this.#draw(), 100);
  }

  set label(label: string) {
    this.#label = label;
  }

  #draw(): void {
    this.#out.write(`\r${SPINNER[this.#frame++ % SPINNER.length]} ${this.#label}\x1b[K`);
  }

  stop(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
    this.#out.write('\r\x1b[K');
  }
}

/** Authorization header for a key, if any. */
export function authHeaders(key: string | null): Record<string, string> {
  return key === null ? {} : { authorization: `Bearer ${key}` };
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends this process's stdin to the job as `stdin` frames as it comes, then `stdin_eof`. */
function forwardStdin(socket: WebSocket, id: string): void {
  const stdin = process.stdin;
  stdin.setEncoding('utf8');
  stdin.on('data', (data: string) => {
    // A stdin frame holds at most 64 KiB of text.
    for (let at = 0; at < data.length; at += 16 * 1024) {
      send(socket, { type: 'stdin', id, data: data.slice(at, at + 16 * 1024) });
    }
  });
  stdin.on('end', () => send(socket, { type: 'stdin_eof', id }));
  stdin.on('error', () => send(socket, { type: 'stdin_eof', id }));
}

function send(socket: WebSocket, frame: ClientToGateway): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

/** How long the command keeps trying to get back to its job once the connection is lost. */
export const RESUME_WINDOW_MS = 60_000;

/** The wait before the next try to resume: the gateway's goaway hint, else 250 ms doubling to 5 s. */
export function resumeDelay(tries: number, goawayMs: number | null): number {
  return goawayMs ?? Math.min(5_000, 250 * 2 ** tries);
}

/**
 * Runs the job; resolves with the exit code once it ended (or the gateway refused it). A lost
 * connection (closed, cut, a ping unanswered, the gateway's goaway) does not lose the job: the
 * command reconnects and resumes it after the last chunk it printed, for RESUME_WINDOW_MS. An
 * interactive job is not resumed: the gateway ends it when its socket goes.
 */
export async function runJob(args: RunArgs): Promise<number> {
  let code: string;
  let stdin: string | undefined;
  try {
    code = args.file === '-' ? await readStream(process.stdin) : await readFile(args.file, 'utf8');
    if (args.stdin?.from === 'file') stdin = await readFile(args.stdin.path, 'utf8');
    if (args.stdin?.from === 'stdin') stdin = await readStream(process.stdin);
  } catch (err) {
    process.stderr.write(`codeexec run: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const live = args.stdin?.from === 'live';
  const id = 'run';
  const frame: ClientToGateway = {
    type: 'execute',
    id,
    lang: args.lang,
    code,
    ...(stdin === undefined ? {} : { stdin }),
    ...(args.args.length === 0 ? {} : { args: args.args }),
    ...(args.timeoutMs === null ? {} : { limits: { wall_time_ms: args.timeoutMs } }),
    interactive: live,
  };
  const spinner = args.json ? null : new Spinner(process.stderr);
  const fail = (message: string, exitCode: number): number => {
    spinner?.stop();
    process.stderr.write(`codeexec run: ${message}\n`);
    return exitCode;
  };
  return new Promise<number>((resolve) => {
    let settled = false;
    let socket: WebSocket;
    let stopPings = (): void => {};
    /** The job's id once accepted: from then on a lost connection is resumed. */
    let jobId: string | null = null;
    /** The last chunk printed: a resume asks for the ones after it, and a repeat is skipped. */
    let lastSeq = -1;
    /** When the connection was lost (null while connected): resuming stops after the window. */
    let lostAt: number | null = null;
    let tries = 0;
    let goawayMs: number | null = null;
    /** Output that will not come (gap frames): the exit note says so. */
    let gaps = 0;
    const drop = (old: WebSocket) => {
      stopPings();
      old.removeAllListeners();
      old.on('error', () => {});
      if (old.readyState === WebSocket.CONNECTING) old.terminate();
      else old.close();
    };
    const finish = (exitCode: number) => {
      if (settled) return;
      settled = true;
      spinner?.stop();
      drop(socket);
      if (live) process.stdin.destroy();
      process.off('SIGINT', interrupt);
      resolve(exitCode);
    };
    /** The connection is gone: before the job was accepted (or for an interactive one) that ends it. */
    const lost = (why: string) => {
      if (settled) return;
      drop(socket);
      if (jobId === null) {
        finish(fail(why, EXIT_GATEWAY));
        return;
      }
      if (live) {
        finish(fail(`${why}; an interactive job ends with its connection`, EXIT_GATEWAY));
        return;
      }
      const now = Date.now();
      lostAt ??= now;
      if (now - lostAt > RESUME_WINDOW_MS) {
        finish(
          fail(
            `${why}; gave up resuming job ${jobId} after ${RESUME_WINDOW_MS / 1000} s (codeexec jobs shows how it ended)`,
            EXIT_GATEWAY,
          ),
        );
        return;
      }
      const delay = resumeDelay(tries++, goawayMs);
      goawayMs = null;
      if (!args.json) process.stderr.write(`codeexec run: ${why}; resuming job ${jobId} in ${delay} ms\n`);
      setTimeout(connect, delay);
    };
    // Ctrl-C: cancel the job (it ends `cancelled`, exit 130); a second one leaves at once.
    const interrupt = () => {
      if (settled) return;
      process.once('SIGINT', () => finish(130));
      send(socket, { type: 'cancel', id });
    };
    process.once('SIGINT', interrupt);
    let quiet = true;
    const output = (stream: NodeJS.WriteStream, data: string) => {
      if (quiet) {
        quiet = false;
        spinner?.stop();
      }
      stream.write(data);
    };
    const onMessage = (raw: WebSocket.RawData) => {
      let message: GatewayToClient;
      try {
        message = JSON.parse(raw.toString()) as GatewayToClient;
      } catch {
        return;
      }
      if (message.type === 'goaway') {
        // The socket closes next; come back when the gateway said.
        goawayMs = message.reconnect_after_ms;
        return;
      }
      if (message.type === 'error') {
        finish(fail(`${message.code}: ${message.message}`, exitCodeOfError(message.code)));
        return;
      }
      if (message.id !== id) return;
      switch (message.type) {
        case 'accepted':
          jobId = message.job_id;
          break;
        case 'resumed':
          lostAt = null;
          tries = 0;
          if (spinner !== null && message.status === 'running') spinner.label = 'running';
          break;
        case 'started':
          if (spinner !== null) spinner.label = 'running';
          break;
        case 'stdout':
        case 'stderr':
          if (message.seq <= lastSeq) break;
          lastSeq = message.seq;
          if (!args.json) output(message.type === 'stdout' ? process.stdout : process.stderr, message.data);
          break;
        case 'gap':
          gaps++;
          break;
        case 'exit': {
          const result = message.result;
          spinner?.stop();
          const outcome = exitCodeOf(result);
          if (args.json) {
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          } else {
            if (message.dropped_chunks > 0 || gaps > 0) {
              process.stderr.write(
                `codeexec run: some output did not arrive (${message.dropped_chunks} chunk(s) dropped for a slow reader, ${gaps} gap(s)); --json has the whole output\n`,
              );
            }
            if (result.reason === 'compile_failed') process.stderr.write(compileOutput(result));
          }
          if (outcome.message !== null) {
            process.stderr.write(`codeexec run: ${outcome.message}\n`);
          }
          finish(outcome.code);
          break;
        }
        default:
          break;
      }
    };
    function connect(): void {
      if (settled) return;
      const current = new WebSocket(socketUrl(args.gateway), { headers: authHeaders(args.key) });
      socket = current;
      current.on('open', () => {
        // Pings keep a proxy in between from cutting a quiet job's link, and tell a dead link from
        // a quiet program: a ping still unanswered at the next one counts as a lost connection.
        stopPings = keepAlive(current, args.pingMs, () =>
          lost(`the gateway at ${args.gateway} stopped answering (no pong within ${args.pingMs} ms)`),
        );
        if (jobId === null) {
          send(current, frame);
          if (live) forwardStdin(current, id);
        } else {
          send(current, { type: 'resume', id, job_id: jobId, after_seq: lastSeq });
        }
      });
      current.on('error', (err) => lost(`cannot reach the gateway at ${args.gateway}: ${err.message}`));
      current.on('unexpected-response', (_req, res) => {
        lost(`the gateway at ${args.gateway} answered ${res.statusCode} instead of a WebSocket`);
      });
      current.on('close', (closeCode, reason) => {
        const why = reason.toString() || `code ${closeCode}`;
        lost(`the gateway closed the connection before the job ended (${why})`);
      });
      current.on('message', onMessage);
    }
    connect();
  });
}

export async function runCommand(env: Env, _log: Logger, argv = process.argv.slice(3)): Promise<void> {
  let args: ReturnType<typeof parseRunArgs>;
  try {
    args = parseRunArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`codeexec run: ${err.message}\n\n${RUN_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.kind === 'help') {
    process.stdout.write(RUN_USAGE);
    return;
  }
  const code = await runJob(args);
  // Let stdout and stderr drain before exiting.
  process.exitCode = code;
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

/**
 * GET a gateway route as JSON. On a failure it prints `codeexec <command>: <code>: <message>`,
 * sets the exit code (2 for a refused request, 3 for the rest) and resolves with null.
 */
export async function getJson<T>(
  command: string,
  url: string,
  headers: Record<string, string>,
): Promise<T | null> {
  let response: Response;
  try {
    response = await fetch(url, { headers });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    process.stderr.write(
      `codeexec ${command}: cannot reach the gateway at ${new URL(url).origin}: ${cause}\n`,
    );
    process.exitCode = EXIT_GATEWAY;
    return null;
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    const code = error?.code ?? `http_${response.status}`;
    process.stderr.write(`codeexec ${command}: ${code}: ${error?.message ?? text.slice(0, 200)}\n`);
    process.exitCode = exitCodeOfError(code);
    return null;
  }
  if (body === null) {
    process.stderr.write(`codeexec ${command}: the gateway's answer is not JSON\n`);
    process.exitCode = EXIT_GATEWAY;
    return null;
  }
  return body as T;
}
