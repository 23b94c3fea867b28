// The pool's prepared execs (DockerSandbox.prepareExec) and usage() on the real engine: argv and
// stdin arrive verbatim, stderr is byte-exact, a launcher that died first is "not started".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGES } from '../../shared/languages.js';
import { DockerSandbox, ExecNotStartedError, type ExecRequest } from '../docker/docker-sandbox.js';
import { SandboxPool } from './sandbox-pool.js';

const python = LANGUAGES.find((lang) => lang.name === 'python');
if (python === undefined) throw new Error('no python language');
const runnerName = `launcher-test-${process.pid}-${Date.now()}`;
const docker = new DockerSandbox();
// Only for its container spec: the very container the pool makes.
const spec = new SandboxPool({ runnerName, languages: [python], docker }).containerSpec(python);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function request(
  argv: string[],
  input: Buffer | null,
  out: { stdout: Buffer[]; stderr: Buffer[] },
): ExecRequest {
  return { argv, input, onOutput: (stream, data) => out[stream].push(Buffer.from(data)) };
}

async function runPrepared(containerId: string, argv: string[], input: Buffer | null = null): Promise<Ran> {
  const prepared = await docker.prepareExec(containerId);
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const code = await prepared.run(request(argv, input, out));
  return {
    code,
    stdout: Buffer.concat(out.stdout).toString('utf8'),
    stderr: Buffer.concat(out.stderr).toString('utf8'),
  };
}

describe('prepared execs on the real engine', () => {
  const made: string[] = [];
  let id = '';

  beforeAll(async () => {
    id = await docker.createAndStart(spec);
    made.push(id);
  });

  afterAll(async () => {
    await Promise.all(made.map((c) => docker.remove(c)));
  });

  it('runs the argv verbatim and hands the rest of stdin to the program', async () => {
    const args = ['', 'two\nlines', 'back\\slash', '€ ünï', '-n', '--', `it's "quoted"`, '$(id)', '*'];
    const code = 'import sys, json; print(json.dumps(sys.argv[1:])); print(sys.stdin.buffer.read().hex())';
    const stdin = Buffer.from('a\0b\nc');
    const ran = await runPrepared(id, ['python3', '-c', code, ...args], stdin);
    expect(ran.code).toBe(0);
    expect(ran.stderr).toBe('');
    const [argv, hex] = ran.stdout.split('\n');
    expect(JSON.parse(argv ?? '')).toEqual(args);
    expect(hex).toBe(stdin.toString('hex'));
  });

  it("keeps the program's stderr byte-exact (only the launcher's marker is taken out)", async () => {
    const code = 'import sys; sys.stderr.buffer.write(b"\\0first"); sys.stderr.flush(); sys.exit(7)';
    const ran = await runPrepared(id, ['python3', '-c', code]);
    expect(ran).toEqual({ code: 7, stdout: '', stderr: '\0first' });
  });

  it('reports a program that cannot be executed as launched (exit 127), not as not started', async () => {
    const ran = await runPrepared(id, ['/no/such/program']);
    expect(ran.code).toBe(127);
    expect(ran.stderr).toMatch(/No such file/);
  });

  it('is "not started" when its container died first, and says so through onEnd', async () => {
    const other = await docker.createAndStart(spec);
    made.push(other);
    let ended = false;
    const prepared = await docker.prepareExec(other, () => {
      ended = true;
    });
    expect(prepared.alive).toBe(true);
    await docker.kill(other);
    await expect.poll(() => ended, { timeout: 10_000 }).toBe(true);
    expect(prepared.alive).toBe(false);
    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    await expect(prepared.run(request(['true'], null, out))).rejects.toBeInstanceOf(ExecNotStartedError);
  });

  it('counts only docker-init and sleep in an idle container; a discarded launcher exits', async () => {
    const prepared = await docker.prepareExec(id);
    await expect.poll(async () => (await docker.usage(id)).pids, { timeout: 10_000 }).toBe(3);
    prepared.discard();
    expect(prepared.alive).toBe(false);
    await expect.poll(async () => (await docker.usage(id)).pids, { timeout: 10_000 }).toBe(2);
  });
});
