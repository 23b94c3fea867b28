// End to end: an existing Piston client from npm (piston-client), unchanged, against the gateway.
import piston from 'piston-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { post, startGateway, startRunner } from './helpers.js';

let url: string;

beforeAll(async () => {
  const gw = await startGateway();
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: url, token: gw.token, slots: 2 });
  await runner.connected();
});

describe('Piston v2 compatibility', () => {
  it('lists runtimes the way Piston does', async () => {
    const runtimes = await piston({ server: url }).runtimes();
    const python = runtimes.find((r: { language: string }) => r.language === 'python');
    expect(python).toMatchObject({ language: 'python', aliases: expect.arrayContaining(['py']) });
    expect(python.version).toMatch(/^3\.\d+\.\d+$/);
  });

  it.each([
    { language: 'python', code: 'import sys\nprint(sys.argv[1:], input())', stdout: "['1', '2', '3'] hi\n" },
    { language: 'javascript', code: 'console.log(process.argv.slice(2).join(","))', stdout: '1,2,3\n' },
    {
      language: 'go',
      code: 'package main\nimport ("fmt"; "os")\nfunc main() { fmt.Println(len(os.Args) - 1) }\n',
      stdout: '3\n',
      compiled: true,
    },
  ])('runs $language through piston-client', async ({ language, code, stdout, compiled }) => {
    const result = await piston({ server: url }).execute(language, code, { stdin: 'hi' });
    expect(result).toMatchObject({
      language,
      run: { stdout, stderr: '', code: 0, signal: null, status: null },
    });
    expect(result.run.output).toBe(stdout);
    if (compiled) expect(result.compile).toMatchObject({ code: 0, status: null });
    else expect(result.compile).toBeUndefined();
  });

  it('reports a runtime error, a timeout and a compile error in Piston terms', async () => {
    const client = piston({ server: url });
    const failing = await client.execute('python', 'raise SystemExit(4)');
    expect(failing.run).toMatchObject({ code: 4, status: 'RE' });
    const slow = await client.execute('python', 'while True: pass', { runTimeout: 1000 });
    expect(slow.run).toMatchObject({ code: null, signal: 'SIGKILL', status: 'TO' });
    const broken = await client.execute('go', 'package main\nfunc main() { nope() }\n');
    expect(broken.compile).toMatchObject({ status: 'RE' });
    expect(broken.compile.code).not.toBe(0);
    expect(broken.run).toBeUndefined();
  });

  it('takes several files, the first being the program', async () => {
    const result = await piston({ server: url }).execute({
      language: 'python',
      files: [
        { name: 'main.py', content: 'import helper\nprint(helper.greet())' },
        { name: 'helper.py', content: 'def greet():\n    return "hello from helper"' },
      ],
    });
    expect(result.run).toMatchObject({ stdout: 'hello from helper\n', code: 0 });
  });

  it.each([
    [{ language: 'cobol', version: '*', files: [{ content: 'x' }] }, /cobol-\* runtime is unknown/],
    [{ language: 'python', version: '2.7', files: [{ content: 'x' }] }, /python-2\.7 runtime is unknown/],
    [{ language: 'python', version: '*', files: [] }, /files/],
    [{ language: 'python', files: 'print(1)' }, /files/],
  ])('answers %j with 400 and a Piston message', async (body, message) => {
    const res = await post(`${url}/api/v2/execute`, body);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body)).toEqual(['message']);
    expect(res.body.message).toMatch(message);
  });
});
