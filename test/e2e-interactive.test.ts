// End to end: interactive jobs (stdin frames, end of input, signals) over /execute/ws and over
// Piston's /api/v2/connect, with a real gateway, runner and Docker. With CODEEXEC_TRANSCRIPTS=<dir>
// set, the frames of the two prompt/answer sessions are written there (docs use them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, startRunner } from './helpers.js';
import { type Frame, TestSocket } from './ws-client.js';

let base: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const gw = await startGateway();
  base = gw.url;
  const runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, slots: 3, maxWarm: 3 });
  await runner.connected();
});

afterAll(() => {
  for (const socket of sockets) socket.close();
});

async function open(path: string): Promise<{ ws: TestSocket; send: (f: Frame) => void }> {
  const ws = await TestSocket.open(`${base}${path}`);
  sockets.push(ws);
  return { ws, send: (frame) => ws.send(frame) };
}

/** Asks for a name, answers, then counts the lines that follow until end of input. */
const PROMPT_PROGRAM = [
  'import sys',
  'sys.stdout.write("name? ")',
  'sys.stdout.flush()',
  'name = sys.stdin.readline().strip()',
  'print(f"hello {name}", flush=True)',
  'rest = sys.stdin.readlines()',
  'print(f"{len(rest)} more lines")',
].join('\n');

const stdoutOf = (ws: TestSocket, id: string) =>
  ws
    .of(id)
    .filter((f) => f.type === 'stdout')
    .map((f) => f.data)
    .join('');

describe('interactive jobs on /execute/ws', () => {
  it('prompts, reads the answer typed after the prompt, then reads until stdin_eof', async () => {
    const { ws, send } = await open('/execute/ws');
    send({ type: 'execute', id: 'greet', lang: 'python', code: PROMPT_PROGRAM, interactive: true });
    await ws.next((f) => f.type === 'stdout' && f.id === 'greet' && stdoutOf(ws, 'greet').includes('name? '));
    expect(stdoutOf(ws, 'greet')).toBe('name? ');
    send({ type: 'stdin', id: 'greet', data: 'Ada\n' });
    await ws.next(() => stdoutOf(ws, 'greet').includes('hello Ada\n'));
    send({ type: 'stdin', id: 'greet', data: 'one\ntwo\n' });
    send({ type: 'stdin', id: 'greet', data: 'three\n' });
    send({ type: 'stdin_eof', id: 'greet' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'greet');
    expect(exit.result).toMatchObject({
      status: 'done',
      reason: 'exited',
      exit_code: 0,
      stdout: 'name? hello Ada\n3 more lines\n',
    });
    await ws.transcript('execute-ws-interactive');
  });

  it("writes the job's own stdin first, then the stdin frames", async () => {
    const { ws, send } = await open('/execute/ws');
    send({
      type: 'execute',
      id: 'first',
      lang: 'python',
      code: 'import sys\nprint(sys.stdin.read().split())',
      stdin: 'a\n',
      interactive: true,
    });
    send({ type: 'stdin', id: 'first', data: 'b\n' });
    send({ type: 'stdin', id: 'first', data: 'c\n' });
    send({ type: 'stdin_eof', id: 'first' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'first');
    expect(exit.result).toMatchObject({ exit_code: 0, stdout: "['a', 'b', 'c']\n" });
  });

  it('holds input sent while a compiled program compiles, and writes it when it runs', async () => {
    const { ws, send } = await open('/execute/ws');
    const code =
      '#include <stdio.h>\nint main(void) { int n; if (scanf("%d", &n) != 1) return 2; printf("%d\\n", 2 * n); return 0; }\n';
    send({ type: 'execute', id: 'c', lang: 'c', code, interactive: true });
    send({ type: 'stdin', id: 'c', data: '21\n' });
    send({ type: 'stdin_eof', id: 'c' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'c');
    expect(exit.result).toMatchObject({ exit_code: 0, stdout: '42\n' });
    expect(exit.result.compile).toMatchObject({ exit_code: 0 });
  });

  it('ends a python loop with SIGINT: KeyboardInterrupt, then death by SIGINT', async () => {
    const { ws, send } = await open('/execute/ws');
    const code = 'import time\nprint("up", flush=True)\nwhile True:\n    time.sleep(0.1)';
    send({ type: 'execute', id: 'int', lang: 'python', code, interactive: true });
    await ws.next((f) => f.type === 'stdout' && f.id === 'int');
    send({ type: 'signal', id: 'int', signal: 'SIGINT' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'int', 15_000);
    // Python turns SIGINT into KeyboardInterrupt; uncaught, it re-raises SIGINT on itself (3.8+).
    expect(exit.result).toMatchObject({ status: 'done', reason: 'signal', signal: 'SIGINT', exit_code: 130 });
    expect(exit.result.stderr).toContain('KeyboardInterrupt');
  });

  it('lets a program that traps SIGINT say goodbye', async () => {
    const { ws, send } = await open('/execute/ws');
    const code = "trap 'echo bye; exit 3' INT\necho up\nwhile true; do sleep 0.1; done";
    send({ type: 'execute', id: 'trap', lang: 'bash', code, interactive: true });
    await ws.next((f) => f.type === 'stdout' && f.id === 'trap');
    send({ type: 'signal', id: 'trap', signal: 'SIGINT' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'trap', 15_000);
    expect(exit.result).toMatchObject({ reason: 'exited', exit_code: 3, stdout: 'up\nbye\n' });
  });

  it.each([
    { signal: 'SIGTERM', exit_code: 143 },
    { signal: 'SIGKILL', exit_code: 137 },
  ])('ends a bash sleep loop with $signal (reason signal)', async ({ signal, exit_code }) => {
    const { ws, send } = await open('/execute/ws');
    const id = `loop-${signal}`;
    // Wall time well past the CPU limit's window: a client's SIGKILL must still read as a signal.
    const code = 'echo up\nwhile true; do sleep 60; done';
    send({ type: 'execute', id, lang: 'bash', code, interactive: true, limits: { wall_time_ms: 20_000 } });
    await ws.next((f) => f.type === 'stdout' && f.id === id);
    send({ type: 'signal', id, signal });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === id, 15_000);
    expect(exit.result).toMatchObject({ status: 'done', reason: 'signal', signal, exit_code });
    expect(exit.result.timings.total_ms).toBeLessThan(10_000);
  });

  it('ends a job whose program leaves more than 1 MiB of stdin unread', async () => {
    const { ws, send } = await open('/execute/ws');
    const code = 'import time\nprint("up", flush=True)\ntime.sleep(30)';
    send({ type: 'execute', id: 'deaf', lang: 'python', code, interactive: true });
    await ws.next((f) => f.type === 'stdout' && f.id === 'deaf');
    // 48 × 64 KiB = 3 MiB: the pipe and socket buffers take some, the runner holds at most 1 MiB.
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 48; i++) send({ type: 'stdin', id: 'deaf', data: chunk });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'deaf', 15_000);
    expect(exit.result).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(exit.result.stderr).toContain('bytes of stdin waited for the program');
  });

  it('signals a job that is not interactive too (its stdin is closed, not its signals)', async () => {
    const { ws, send } = await open('/execute/ws');
    send({ type: 'execute', id: 'plain', lang: 'bash', code: 'echo up\nsleep 60' });
    await ws.next((f) => f.type === 'stdout' && f.id === 'plain');
    send({ type: 'signal', id: 'plain', signal: 'SIGTERM' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'plain', 15_000);
    expect(exit.result).toMatchObject({ reason: 'signal', signal: 'SIGTERM' });
  });

  it('answers stdin for a job that is not interactive with an error frame; the job runs on', async () => {
    const { ws, send } = await open('/execute/ws');
    send({
      type: 'execute',
      id: 'batch',
      lang: 'python',
      code: 'import time\ntime.sleep(0.5)\nprint("done")',
    });
    await ws.next((f) => f.type === 'accepted' && f.id === 'batch');
    send({ type: 'stdin', id: 'batch', data: 'x\n' });
    const error = await ws.next((f) => f.type === 'error' && f.id === 'batch');
    expect(error.code).toBe('invalid_frame');
    send({ type: 'stdin_eof', id: 'batch' });
    await ws.next((f) => f.type === 'error' && f.id === 'batch' && f !== error);
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'batch');
    expect(exit.result).toMatchObject({ exit_code: 0, stdout: 'done\n' });
  });
});

describe("Piston's interactive socket /api/v2/connect", () => {
  it('runs the prompt/answer program: runtime, stage, data, exit, close 4999', async () => {
    const { ws, send } = await open('/api/v2/connect');
    send({ type: 'init', language: 'python', version: '*', files: [{ content: PROMPT_PROGRAM }] });
    const runtime = await ws.next((f) => f.type === 'runtime');
    expect(runtime).toMatchObject({ language: 'python', version: expect.stringMatching(/^3\./) });
    await ws.next((f) => f.type === 'stage');
    const data = () =>
      ws.frames
        .filter((f) => f.type === 'data' && f.stream === 'stdout')
        .map((f) => f.data)
        .join('');
    await ws.next(() => data().includes('name? '));
    send({ type: 'data', stream: 'stdin', data: 'Ada\n' });
    await ws.next(() => data().includes('hello Ada\n'));
    send({ type: 'data', stream: 'stdin', data: 'one\ntwo\n' });
    send({ type: 'eof' });
    const exit = await ws.next((f) => f.type === 'exit');
    expect(exit).toMatchObject({ stage: 'run', code: 0, signal: null });
    expect(data()).toBe('name? hello Ada\n2 more lines\n');
    expect(ws.frames.filter((f) => f.type === 'stage').map((f) => f.stage)).toEqual(['run']);
    const closed = await ws.closed;
    expect(closed).toEqual({ code: 4999, reason: 'Job Completed' });
    await ws.transcript('piston-connect-interactive', closed);
  });

  it("sends a compiled language's frames in Piston's order: compile stage and exit before the program's output", async () => {
    const { ws, send } = await open('/api/v2/connect');
    const program = [
      '#include <stdio.h>',
      '#warning "from the compiler"',
      'int main(void) { char name[64]; printf("name? "); fflush(stdout);',
      '  if (scanf("%63s", name) == 1) printf("hi %s\\n", name); return 0; }',
    ].join('\n');
    send({ type: 'init', language: 'c', version: '*', files: [{ content: program }] });
    await ws.next((f) => f.type === 'data' && f.data.includes('name? '));
    send({ type: 'data', stream: 'stdin', data: 'Ada\n' });
    send({ type: 'eof' });
    await ws.closed;
    const frames = ws.frames.filter((f) => f.type !== 'runtime').map(({ at: _at, ...f }) => f);
    const kinds = frames.map((f) => `${f.type}:${f.stage ?? f.stream}`);
    // The compiler's warning, its exit, then the run stage and everything the program wrote.
    expect(kinds.slice(0, 4)).toEqual(['stage:compile', 'data:stderr', 'exit:compile', 'stage:run']);
    expect(frames[1]?.data).toContain('from the compiler');
    expect(frames[2]).toMatchObject({ code: 0, signal: null });
    expect(kinds.at(-1)).toBe('exit:run');
    const output = frames
      .filter((f) => f.type === 'data' && f.stream === 'stdout')
      .map((f) => f.data)
      .join('');
    expect(output).toBe('name? hi Ada\n');
  });

  it('delivers a signal: SIGKILL ends a program that would run on', async () => {
    const { ws, send } = await open('/api/v2/connect');
    send({ type: 'init', language: 'bash', version: '*', files: [{ content: 'echo up\nsleep 60' }] });
    await ws.next((f) => f.type === 'data');
    send({ type: 'signal', signal: 'SIGKILL' });
    const exit = await ws.next((f) => f.type === 'exit', 15_000);
    expect(exit).toMatchObject({ stage: 'run', code: 137, signal: 'SIGKILL' });
    expect((await ws.closed).code).toBe(4999);
  });

  it.each([
    { name: 'data before init', frames: [{ type: 'data', stream: 'stdin', data: 'x' }], code: 4003 },
    {
      name: 'a second init',
      frames: [
        { type: 'init', language: 'bash', version: '*', files: [{ content: 'sleep 5' }] },
        { type: 'init', language: 'bash', version: '*', files: [{ content: 'sleep 5' }] },
      ],
      code: 4000,
    },
    {
      name: 'data for a stream other than stdin',
      frames: [
        { type: 'init', language: 'bash', version: '*', files: [{ content: 'sleep 5' }] },
        { type: 'data', stream: 'stdout', data: 'x' },
      ],
      code: 4004,
    },
    {
      name: 'a signal Piston does not know',
      frames: [
        { type: 'init', language: 'bash', version: '*', files: [{ content: 'sleep 5' }] },
        { type: 'signal', signal: 'SIGNOPE' },
      ],
      code: 4005,
    },
    {
      name: 'an unknown runtime',
      frames: [{ type: 'init', language: 'cobol', files: [{ content: 'x' }] }],
      code: 4002,
    },
  ])("closes with Piston's code for $name ($code)", async ({ frames, code }) => {
    const { ws, send } = await open('/api/v2/connect');
    for (const frame of frames) send(frame);
    expect((await ws.closed).code).toBe(code);
  });

  it('closes a socket that never sends init (4001)', async () => {
    const { ws } = await open('/api/v2/connect');
    expect((await ws.closed).code).toBe(4001);
  });
});
