// End to end: a real gateway, a real runner and the real Docker engine, on OS-chosen ports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runner } from '../runner/runner.js';
import { containersOf, post, startGateway, startRunner } from './helpers.js';

// The same suite over both server transports: one core, two adapters.
describe.each(['uws', 'ws'] as const)('over the %s transport', (transport) => {
  let url: string;
  let runner: Runner;

  beforeAll(async () => {
    const gw = await startGateway({ transport });
    url = gw.url;
    runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, slots: 2 });
    await runner.connected();
  });

  afterAll(async () => {
    await runner.close();
    expect(containersOf(runner.name)).toEqual([]);
  });

  const execute = (body: unknown) => post(`${url}/execute/code`, body);

  describe('POST /execute/code runs code in a sandbox', () => {
    it.each([
      { lang: 'python', code: 'print(6*7)' },
      { lang: 'js', code: 'console.log(6*7)' },
      { lang: 'javascript', code: 'console.log(6*7)' },
      { lang: 'go', code: 'package main\nimport "fmt"\nfunc main() { fmt.Println(6*7) }\n' },
    ])('hello world in $lang', async ({ lang, code }) => {
      const res = await execute({ lang, code });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ output: '42\n', exit_code: 0, status: 'done', reason: 'exited' });
      expect(res.body.id).toEqual(expect.any(String));
    });

    it.each([
      {
        name: 'a non-zero exit code',
        lang: 'python',
        code: 'import sys\nprint("bye")\nsys.exit(3)',
        expected: { exit_code: 3, stdout: 'bye\n', status: 'done', reason: 'exited' },
      },
      {
        name: 'stderr kept apart from stdout',
        lang: 'js',
        // Two pipes written microseconds apart reach Docker in either order; a pause orders them.
        code: 'process.stdout.write("out\\n", () => setTimeout(() => console.error("err"), 20))',
        expected: { exit_code: 0, stdout: 'out\n', stderr: 'err\n', output: 'out\nerr\n' },
      },
      {
        name: 'a python syntax error',
        lang: 'python',
        code: 'print(',
        expected: { exit_code: 1, status: 'done', stdout: '' },
        stderr: /SyntaxError/,
      },
      {
        name: 'a go compile error',
        lang: 'go',
        code: 'package main\nfunc main() { undefined_thing() }\n',
        expected: { status: 'done', reason: 'compile_failed' },
        compileStderr: /undefined/,
      },
      {
        name: 'stdin and args reach the program',
        lang: 'python',
        code: 'import sys\nprint(sys.stdin.read().upper(), sys.argv[1:])',
        stdin: 'hello',
        args: ['a b', '$HOME'],
        expected: { exit_code: 0, stdout: "HELLO ['a b', '$HOME']\n" },
      },
    ])('$name', async ({ lang, code, expected, stdin, args, stderr, compileStderr }) => {
      const res = await execute({ lang, code, stdin, args });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject(expected);
      if (stderr) expect(res.body.stderr).toMatch(stderr);
      if (compileStderr) expect(res.body.compile.stderr).toMatch(compileStderr);
    });

    it('ends an infinite loop at the wall-time limit and kills the sandbox', async () => {
      const started = Date.now();
      const res = await execute({ lang: 'python', code: 'while True: pass', limits: { wall_time_ms: 1500 } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'done', reason: 'wall_time', exit_code: null });
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });

  describe('bad requests get a precise 4xx and the gateway keeps serving', () => {
    it.each([
      { name: 'malformed JSON', body: '{"lang": "python", "code": ', status: 400, code: 'invalid_json' },
      {
        name: 'a missing field',
        body: { lang: 'python' },
        status: 400,
        code: 'invalid_request',
        message: /code/,
      },
      {
        name: 'a wrong type',
        body: { lang: 'python', code: 42 },
        status: 400,
        code: 'invalid_request',
        message: /code/,
      },
      {
        name: 'an unknown field',
        body: { lang: 'python', code: '', colour: 1 },
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'an unknown language',
        body: { lang: 'cobol', code: 'x' },
        status: 400,
        code: 'unknown_language',
        message: /cobol.*Known: .*go.*javascript.*python/,
      },
      { name: 'a JSON array', body: '[]', status: 400, code: 'invalid_request' },
      {
        name: 'a limit above the maximum',
        body: { lang: 'python', code: '', limits: { wall_time_ms: 10_000_000 } },
        status: 400,
        code: 'limit_exceeded',
        message: /wall_time_ms/,
      },
    ])('$name → $status $code', async ({ body, status, code, message }) => {
      const res = await execute(body);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      if (message) expect(res.body.error.message).toMatch(message);
    });

    it('a body that is not JSON by content type → 415', async () => {
      const res = await post(`${url}/execute/code`, 'lang=python', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('unsupported_media_type');
    });

    it('an oversized body → 413', async () => {
      const res = await execute({ lang: 'python', code: 'x'.repeat(2 * 1024 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('body_too_large');
    });

    it('unknown route → 404, wrong method → 405', async () => {
      const missing = await fetch(`${url}/nope`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
      const wrong = await fetch(`${url}/execute/code`);
      expect(wrong.status).toBe(405);
    });

    it('health answers', async () => {
      const res = await fetch(`${url}/execute/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    });

    it('still runs code after all of the above', async () => {
      const res = await execute({ lang: 'python', code: 'print("alive")' });
      expect(res.body).toMatchObject({ output: 'alive\n', exit_code: 0, status: 'done' });
    });
  });
});
