// The code the playground ships in each language, in each language's real sandbox: every example
// the editor starts with runs and greets, with stdin and without, and in a session too, whose
// files session mode then lists (session_files: find in every language's image). Through
// /execute/ws, as the page sends them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGES } from '../shared/languages.js';
import { startGateway, startRunner } from '../test/helpers.js';
import { type Frame, TestSocket } from '../test/ws-client.js';
import { EXAMPLE_OUTPUT, EXAMPLES } from './src/examples.js';

let url = '';
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const gw = await startGateway();
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, slots: 2 });
  await runner.connected();
}, 120_000);

afterAll(() => {
  for (const socket of sockets) socket.close();
});

const exitOf = (ws: TestSocket, id: string): Promise<Frame> =>
  ws.next((f) => f.id === id && (f.type === 'exit' || f.type === 'error'), 90_000);

describe('the playground’s code in every language', () => {
  it.each(LANGUAGES.map((lang) => lang.name))(
    '%s: the example runs, alone and in a session, whose files are listed',
    async (lang) => {
      const ws = await TestSocket.open(`${url}/execute/ws`);
      sockets.push(ws);
      const code = EXAMPLES[lang] ?? '';
      ws.send({ type: 'execute', id: 'plain', lang, code });
      ws.send({ type: 'session_open', id: 's', lang });
      ws.send({
        type: 'execute',
        id: 'greet',
        session: 's',
        code,
        stdin: 'Ada\n',
        files: [{ name: 'data/notes.txt', content: 'kept' }],
      });

      const [plain, greet] = await Promise.all([exitOf(ws, 'plain'), exitOf(ws, 'greet')]);
      for (const frame of [plain, greet]) {
        expect(frame.type, JSON.stringify(frame)).toBe('exit');
        expect(frame.result, JSON.stringify(frame.result)).toMatchObject({ reason: 'exited', exit_code: 0 });
      }
      expect(plain.result.stdout).toBe(EXAMPLE_OUTPUT);
      expect(greet.result.stdout).toBe(EXAMPLE_OUTPUT.replace('world', 'Ada'));
      ws.send({ type: 'session_files', id: 'files', session: 's' });
      const files = await ws.next(
        (f) => f.id === 'files' && (f.type === 'session_files' || f.type === 'error'),
      );
      expect(files, JSON.stringify(files)).toMatchObject({ type: 'session_files', truncated: false });
      const main = LANGUAGES.find((spec) => spec.name === lang)?.file;
      expect(files.files).toEqual(
        expect.arrayContaining([
          { path: 'data/notes.txt', size: 4 },
          { path: main, size: Buffer.byteLength(code) },
        ]),
      );
      ws.send({ type: 'session_close', id: 's' });
      await ws.next((f) => f.type === 'session_closed' && f.id === 's');
    },
    150_000,
  );
});
